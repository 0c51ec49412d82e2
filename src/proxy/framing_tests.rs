use super::*;

fn head(lines: &[(&str, &str)]) -> RequestHead {
    let fields: Vec<(&str, &[u8])> = lines.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
    RequestHead::new("POST", "/", 1, &fields)
}

#[test]
fn framing_rules() {
    assert_eq!(body_framing(&head(&[])).unwrap(), BodyFraming::None);
    assert_eq!(
        body_framing(&head(&[("Content-Length", "12")])).unwrap(),
        BodyFraming::Length(12)
    );
    assert_eq!(
        body_framing(&head(&[("Transfer-Encoding", "Chunked")])).unwrap(),
        BodyFraming::Chunked
    );
    for bad in [
        vec![("Content-Length", "3"), ("Transfer-Encoding", "chunked")],
        vec![("Content-Length", "3"), ("content-length", "3")],
        vec![("Content-Length", "3"), ("content-length", "4")],
        vec![("Content-Length", "3, 4")],
        vec![("Content-Length", "-1")],
        vec![("Content-Length", "+5")],
        vec![
            ("Transfer-Encoding", "chunked"),
            ("Transfer-Encoding", "chunked"),
        ],
    ] {
        let err = body_framing(&head(&bad)).unwrap_err();
        assert_eq!(err.status(), Some(400), "{bad:?}");
    }
    let err = body_framing(&head(&[("Transfer-Encoding", "gzip, chunked")])).unwrap_err();
    assert_eq!(err.status(), Some(501));
}

#[test]
fn keep_alive_and_upgrade() {
    assert!(head(&[]).keep_alive());
    assert!(!head(&[("Connection", "Close")]).keep_alive());
    let mut h10 = head(&[]);
    h10.minor_version = 0;
    assert!(!h10.keep_alive());
    assert!(head(&[("Upgrade", "websocket"), ("Connection", "Upgrade")]).is_upgrade());
    assert!(!head(&[("Connection", "keep-alive")]).is_upgrade());
}

#[test]
fn encode_head_shapes() {
    let h = encode_head(
        200,
        [("content-type", b"text/plain".as_slice())].into_iter(),
        ResponseFraming::Length(2),
        false,
    );
    assert_eq!(
        String::from_utf8(h).unwrap(),
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\n"
    );
}
