/**
 * What a function bundle gets for `semver` (see BUNDLE_ALIASES in infra/function.ts): the one
 * function its importer calls. aws-xray-sdk-core (under the Powertools Tracer) loads semver with
 * its AWS SDK v2 patcher, whose `captureAWS` checks `semver.gte(AWS.VERSION, '2.7.15')`; the v3
 * patcher the Tracer uses never calls it. The whole package is 28 KB of every bundle.
 *
 * `gte` as semver defines it for plain versions: major.minor.patch compared as numbers, and a
 * prerelease (`1.2.3-rc.1`) below its release, prereleases compared field by field (numbers
 * numerically and below words). Build metadata (`+...`) is ignored; anything else is refused,
 * as semver refuses it.
 */
const VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

interface Parsed {
  core: [number, number, number];
  pre: string[];
}

function parse(version: string): Parsed {
  const m = VERSION.exec(version.trim());
  if (!m) throw new TypeError(`Invalid Version: ${version}`);
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split('.') : [] };
}

function comparePre(a: string[], b: string[]): number {
  // A release ranks above its prereleases.
  if (a.length === 0 || b.length === 0) return b.length - a.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [x, y] = [a[i], b[i]];
    if (x === undefined || y === undefined) return x === undefined ? -1 : 1;
    if (x === y) continue;
    const [nx, ny] = [/^\d+$/.test(x), /^\d+$/.test(y)];
    if (nx && ny) return Number(x) - Number(y);
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

export function compare(a: string, b: string): number {
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) {
    const d = (x.core[i] ?? 0) - (y.core[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return Math.sign(comparePre(x.pre, y.pre));
}

export function gte(a: string, b: string): boolean {
  return compare(a, b) >= 0;
}
