# Check a rendered Homebrew formula against the release tree without Homebrew: evaluate it
# with a stub Formula DSL, compare every url/sha256 with SHA256SUMS, apply the rules of
# `brew audit --strict` that need no network (desc length and form, https URLs, license,
# livecheck, a test block that runs the binary), and check that every file `install` takes
# is in the archives.
#   ruby packaging/scripts/check-formula.rb FORMULA TREE_DIR BASE_URL VERSION LICENSE
formula_path, tree, base_url, version, license = ARGV
abort "usage: check-formula.rb FORMULA TREE_DIR BASE_URL VERSION LICENSE" unless license

# What the test and install blocks call, recorded instead of run.
class Recorder
  attr_reader :calls

  def initialize(prefix)
    @prefix = prefix
    @calls = []
  end

  def to_s = @prefix

  def install(*args)
    args.each do |a|
      (a.is_a?(Hash) ? a.keys : [a]).each { |k| @calls << k.to_s }
    end
  end
end

class Formula
  @@seen = []
  @@ctx = []
  @@meta = {}
  @@klass = nil
  def self.inherited(sub) = @@klass = sub
  def self.klass = @@klass
  def self.seen; @@seen; end
  def self.meta; @@meta; end
  def self.desc(v) = @@meta[:desc] = v
  def self.homepage(v) = @@meta[:homepage] = v
  def self.version(v = nil) = v.nil? ? @@meta[:version] : (@@meta[:version] = v)
  def self.license(v) = @@meta[:license] = v
  def self.url(v) = @@seen << { ctx: @@ctx.dup, url: v }
  def self.sha256(v) = @@seen.last[:sha256] = v
  %i[on_macos on_linux on_arm on_intel].each do |name|
    define_singleton_method(name) { |&blk| @@ctx.push(name); blk.call; @@ctx.pop }
  end

  def self.livecheck(&blk)
    @@meta[:livecheck] = {}
    Livecheck.new(@@meta[:livecheck]).instance_eval(&blk)
  end

  def self.test(&blk) = @@meta[:test] = blk

  # The instance side: what `install`, `caveats` and `test do` see.
  attr_reader :shell_commands, :assertions

  def initialize
    @shell_commands = []
    @assertions = []
    @recorders = {}
  end

  %i[bin bash_completion zsh_completion fish_completion doc].each do |name|
    define_method(name) { @recorders[name] ||= Recorder.new(name == :bin ? "BIN" : name.to_s) }
  end
  def installed = @recorders.values.flat_map(&:calls)
  def version = Formula.meta[:version]

  def shell_output(cmd)
    @shell_commands << cmd
    "oauth-mux #{version}\n"
  end

  def assert_equal(want, got) = @assertions << [want, got]
end

class Livecheck
  def initialize(store) = @store = store
  def url(v) = @store[:url] = v
  def strategy(v) = @store[:strategy] = v
end

load formula_path
abort "the formula defines no Formula subclass" unless Formula.klass
sums = File.readlines(File.join(tree, "SHA256SUMS")).to_h { |l| h, n = l.chomp.split("  ", 2); [n, h] }
meta = Formula.meta
errors = []
errors << "version is #{meta[:version].inspect}" unless meta[:version] == version
errors << "license is #{meta[:license].inspect}, Cargo.toml says #{license}" unless meta[:license] == license
want = [%i[on_macos on_arm], %i[on_macos on_intel], %i[on_linux on_arm], %i[on_linux on_intel]]
errors << "platform blocks are #{Formula.seen.map { _1[:ctx] }.inspect}" unless Formula.seen.map { _1[:ctx] }.sort == want.sort
Formula.seen.each do |e|
  name = File.basename(e[:url])
  errors << "#{e[:url]} is not under #{base_url}" unless e[:url] == "#{base_url}/#{name}"
  errors << "#{name} is not in the tree's SHA256SUMS" unless sums[name]
  errors << "#{name}: formula sha256 #{e[:sha256]} != SHA256SUMS #{sums[name]}" unless sums[name] == e[:sha256]
  errors << "#{name} does not exist in #{tree}" unless File.file?(File.join(tree, name))
  errors << "url #{e[:url]} is not https (brew audit)" unless e[:url].start_with?("https://")
end

# brew audit --strict, the offline part.
desc = meta[:desc].to_s
errors << "desc is empty" if desc.empty?
errors << "desc is #{desc.length} characters; brew audit allows at most 80" if desc.length > 80
errors << "desc ends with a period; brew audit refuses that" if desc.end_with?(".")
errors << "desc starts with an article" if desc.match?(/\A(an?|the)\s/i)
errors << "desc starts with the formula name" if desc.downcase.start_with?("oauth-mux", "oauth mux")
errors << "homepage #{meta[:homepage].inspect} is not https" unless meta[:homepage].to_s.start_with?("https://")
errors << "no livecheck block" unless meta[:livecheck]
if meta[:livecheck] && !(meta[:livecheck][:url] && meta[:livecheck][:strategy])
  errors << "livecheck needs a url and a strategy: #{meta[:livecheck].inspect}"
end

# `test do` must run the installed binary and check what it prints.
if meta[:test]
  f = Formula.klass.new
  f.instance_eval(&meta[:test])
  errors << "test do runs #{f.shell_commands.inspect}, not BIN/oauth-mux" unless f.shell_commands.any? { _1.start_with?("BIN/oauth-mux ") }
  errors << "test do asserts nothing about the output" if f.assertions.empty?
  f.assertions.each { |w, g| errors << "test do expects #{w.inspect}, the binary prints #{g.inspect}" unless w == g.strip }
else
  errors << "no test do block"
end

# `caveats` must name the upgrade command `oauth-mux update` prints for Homebrew installs.
caveats = Formula.klass.new.caveats.to_s
errors << "caveats do not name `brew upgrade oauth-mux`" unless caveats.include?("brew upgrade oauth-mux")

# Every file `install` takes must be in every archive (Homebrew enters the one top directory).
f = Formula.klass.new
f.install
Formula.seen.each do |e|
  archive = File.join(tree, File.basename(e[:url]))
  next unless File.file?(archive)
  listing = IO.popen(["tar", "-tzf", archive], err: File::NULL, &:read).lines.map { _1.chomp.sub(%r{\A[^/]+/}, "") }
  f.installed.each do |path|
    errors << "#{File.basename(archive)} lacks #{path} (install takes it)" unless listing.include?(path)
  end
end

abort "formula check failed:\n  " + errors.join("\n  ") unless errors.empty?
puts "formula: #{Formula.seen.size} url/sha256 pairs match the tree; offline brew audit rules pass " \
     "(desc #{desc.length} chars, livecheck, test runs the binary); install takes #{f.installed.size} files present in every archive"
