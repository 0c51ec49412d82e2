# Homebrew formula for oauth-mux @@VERSION@@ (rendered by oauth-mux-packaging; do not edit).
# Copy to Formula/oauth-mux.rb in the tap.
class OauthMux < Formula
  desc "@@DESCRIPTION@@"
  homepage "@@HOMEPAGE@@"
  version "@@VERSION@@"
  license "@@LICENSE@@"

  livecheck do
    url :homepage
    strategy :github_latest
  end

@@PLATFORM_BLOCKS@@
  def install
    bin.install "oauth-mux"
    bash_completion.install "completions/oauth-mux.bash" => "oauth-mux"
    zsh_completion.install "completions/_oauth-mux"
    fish_completion.install "completions/oauth-mux.fish"
    doc.install "README.md"
  end

  def caveats
    <<~EOS
      Homebrew owns this install: upgrade it with `brew upgrade oauth-mux`.
      `oauth-mux update` recognises the Homebrew install and prints that command
      instead of replacing the binary.
    EOS
  end

  test do
    assert_equal "oauth-mux #{version}", shell_output("#{bin}/oauth-mux version").strip
  end
end
