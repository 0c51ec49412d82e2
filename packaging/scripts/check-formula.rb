# Check a rendered Homebrew formula against the release tree without Homebrew:
# evaluate it with a stub Formula DSL, then compare every url/sha256 with SHA256SUMS.
#   ruby packaging/scripts/check-formula.rb FORMULA TREE_DIR BASE_URL VERSION
formula_path, tree, base_url, version = ARGV
abort "usage: check-formula.rb FORMULA TREE_DIR BASE_URL VERSION" unless version

class Formula
  @@seen = []
  @@ctx = []
  @@meta = {}
  def self.seen; @@seen; end
  def self.meta; @@meta; end
  def self.desc(v) = @@meta[:desc] = v
  def self.homepage(v) = @@meta[:homepage] = v
  def self.version(v) = @@meta[:version] = v
  def self.license(v) = @@meta[:license] = v
  def self.url(v) = @@seen << { ctx: @@ctx.dup, url: v }
  def self.sha256(v) = @@seen.last[:sha256] = v
  %i[on_macos on_linux on_arm on_intel].each do |name|
    define_singleton_method(name) { |&blk| @@ctx.push(name); blk.call; @@ctx.pop }
  end
  def self.test(&_blk); end
end

load formula_path
sums = File.readlines(File.join(tree, "SHA256SUMS")).to_h { |l| h, n = l.chomp.split("  ", 2); [n, h] }
errors = []
errors << "version is #{Formula.meta[:version].inspect}" unless Formula.meta[:version] == version
errors << "license is #{Formula.meta[:license].inspect}" unless Formula.meta[:license] == "MIT"
want = [%i[on_macos on_arm], %i[on_macos on_intel], %i[on_linux on_arm], %i[on_linux on_intel]]
errors << "platform blocks are #{Formula.seen.map { _1[:ctx] }.inspect}" unless Formula.seen.map { _1[:ctx] }.sort == want.sort
Formula.seen.each do |e|
  name = File.basename(e[:url])
  errors << "#{e[:url]} is not under #{base_url}" unless e[:url] == "#{base_url}/#{name}"
  errors << "#{name} is not in the tree's SHA256SUMS" unless sums[name]
  errors << "#{name}: formula sha256 #{e[:sha256]} != SHA256SUMS #{sums[name]}" unless sums[name] == e[:sha256]
  errors << "#{name} does not exist in #{tree}" unless File.file?(File.join(tree, name))
end
abort "formula check failed:\n  " + errors.join("\n  ") unless errors.empty?
puts "formula: #{Formula.seen.size} url/sha256 pairs match the tree"
