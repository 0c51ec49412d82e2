# Homebrew formula for oauth-mux @@VERSION@@ (rendered by oauth-mux-packaging; do not edit).
# Copy to Formula/oauth-mux.rb in the tap.
class OauthMux < Formula
  desc "@@DESCRIPTION@@"
  homepage "@@HOMEPAGE@@"
  version "@@VERSION@@"
  license "MIT"

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
      Installed by Homebrew: upgrade with `brew upgrade oauth-mux` (oauth-mux update defers to it).
    EOS
  end

  test do
    assert_equal "oauth-mux #{version}", shell_output("#{bin}/oauth-mux version").strip
  end
end
