/** The door's allow-list and its settings: what parses, what matches, which addresses need naming. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig, type Machine } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";
import { addressAllowed, hostAllowed, isSpecialAddress, parseAllowList } from "../src/egress/egress-policy.ts";

const machine: Machine = { totalMemoryBytes: 8 * 1024 ** 3, cpus: 4 };

test("an allow-list holds names, *. wildcards, addresses and ranges, each with an optional port", () => {
  const policy = parseAllowList("pypi.org, *.pythonhosted.org:443 10.1.2.3 192.168.0.0/16:8080,[::1]:3000, 2001:db8::/32");
  assert.deepEqual(policy.entries.map(({ kind, value, prefix, port }) => [kind, value, prefix, port]), [
    ["name", "pypi.org", 0, undefined],
    ["wildcard", "pythonhosted.org", 0, 443],
    ["address", "10.1.2.3", 32, undefined],
    ["address", "192.168.0.0", 16, 8080],
    ["address", "::1", 128, 3000],
    ["address", "2001:db8::", 32, undefined],
  ]);
  for (const bad of ["exa mple.org:x", "host:0", "host:70000", "10.0.0.0/33", "*.", "a..b", "http://pypi.org"]) {
    assert.throws(() => parseAllowList(bad), Error, bad);
  }
});

test("names match exactly or as subdomains of a wildcard, at the entry's port; IP literals only by address entries", () => {
  const policy = parseAllowList("pypi.org, *.pythonhosted.org:443, 203.0.113.0/24:80");
  assert.ok(hostAllowed(policy, "PyPI.org", 443));
  assert.ok(hostAllowed(policy, "pypi.org", 8443));
  assert.ok(!hostAllowed(policy, "evil-pypi.org", 443));
  assert.ok(hostAllowed(policy, "files.pythonhosted.org", 443));
  assert.ok(!hostAllowed(policy, "pythonhosted.org", 443), "a wildcard names subdomains, not the domain itself");
  assert.ok(!hostAllowed(policy, "files.pythonhosted.org", 80));
  assert.ok(hostAllowed(policy, "203.0.113.9", 80));
  assert.ok(!hostAllowed(policy, "203.0.113.9", 443));
  assert.ok(!hostAllowed(policy, "151.101.0.223", 443), "a public address is not allowed by a name that may resolve to it");
});

test("loopback, private, link-local (metadata), shared and reserved addresses are refused unless an entry names them", () => {
  for (const address of ["127.0.0.1", "10.0.0.5", "172.20.1.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"]) {
    assert.ok(isSpecialAddress(address), address);
    assert.ok(!addressAllowed(parseAllowList("example.org"), address, 80), address);
  }
  for (const address of ["151.101.0.223", "2a04:4e42::223"]) assert.ok(addressAllowed(parseAllowList("example.org"), address, 443), address);
  const named = parseAllowList("127.0.0.1:8080, 10.0.0.0/8");
  assert.ok(addressAllowed(named, "127.0.0.1", 8080));
  assert.ok(!addressAllowed(named, "127.0.0.1", 8081));
  assert.ok(addressAllowed(named, "10.9.8.7", 5432));
  assert.ok(!addressAllowed(named, "169.254.169.254", 80));
});

test("settings: unset is no door; the global list, a workspace's own list in its place, the limits and the index, each bad value said plainly", () => {
  assert.equal(loadConfig({}, machine).egress.enabled, false);
  const config = loadConfig({
    THREADBOOK_EGRESS_ALLOW: "pypi.org,*.pythonhosted.org:443",
    THREADBOOK_EGRESS_ALLOW_SLACK_T0123: "api.example.org",
    THREADBOOK_EGRESS_ALLOW_DISCORD_123456789: "10.0.0.0/8:443",
    THREADBOOK_EGRESS_TURN_MB: "5",
    THREADBOOK_EGRESS_REQUESTS_PER_MINUTE: "30",
    THREADBOOK_EGRESS_CONNECTION_S: "20",
    THREADBOOK_PACKAGES_MB: "128",
    THREADBOOK_PIP_INDEX_URL: "https://pypi.org/simple",
  }, machine);
  assert.equal(config.egress.enabled, true);
  assert.deepEqual(config.egress.allow?.entries.map((entry) => entry.text), ["pypi.org", "*.pythonhosted.org:443"]);
  assert.deepEqual(Object.keys(config.egress.workspaces), ["slack:T0123", "discord:123456789"]);
  assert.deepEqual(config.egress.workspaces["slack:T0123"]?.entries.map((entry) => entry.text), ["api.example.org"]);
  assert.deepEqual([config.egress.turnBytes, config.egress.requestsPerMinute, config.egress.connectionMs, config.egress.packagesMb, config.egress.pipIndexUrl], [5 * 1024 * 1024, 30, 20_000, 128, "https://pypi.org/simple"]);
  assert.deepEqual(config.warnings, [], "a workspace's list is a known setting");
  assert.equal(loadConfig({ THREADBOOK_EGRESS_ALLOW_SLACK_T9: "example.org" }, machine).egress.enabled, true, "a workspace's list alone opens doors");
  assert.deepEqual(loadConfig({ THREADBOOK_EGRESS_ALOW: "x" }, machine).warnings, ["THREADBOOK_EGRESS_ALOW is not a threadbook setting, so it is ignored; did you mean THREADBOOK_EGRESS_ALLOW?"]);

  let problems: string[] = [];
  try {
    loadConfig({ THREADBOOK_EGRESS_ALLOW: "http://pypi.org", THREADBOOK_EGRESS_ALLOW_SLACK_T1: "a b:99999", THREADBOOK_PIP_INDEX_URL: "https://user:secret@index.example.org/simple" }, machine);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    problems = error.problems;
  }
  assert.equal(problems.length, 3);
  assert.match(problems[0] ?? "", /^THREADBOOK_EGRESS_ALLOW: must be host names/);
  assert.match(problems.join("\n"), /THREADBOOK_PIP_INDEX_URL: must be an http:\/\/ or https:\/\/ URL of a simple index, without a user name or password/);
  assert.doesNotMatch(problems.join("\n"), /secret/, "a refused index URL is not repeated with its password");
  assert.match(problems.join("\n"), /^THREADBOOK_EGRESS_ALLOW_SLACK_T1: must be host names/m);
});
