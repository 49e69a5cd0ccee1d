/**
 * The shipped Grafana dashboard (deploy/grafana/) and Prometheus alert rules
 * (deploy/prometheus/alerts.yml) use only metrics the bridge serves: every metric name in every
 * PromQL expression is a family on a running bridge's /metrics, and every label a selector or a
 * `by (…)` names is one of that metric's labels. A renamed metric fails here, not on a wall screen.
 * `promtool check rules` runs on the rules where promtool is installed (Debian's prometheus).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startHarness, type Harness } from '../helpers/harness.js';
import { scrapeMetrics } from '../helpers/metrics.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const RULES = `${ROOT}deploy/prometheus/alerts.yml`;
const DASHBOARD = `${ROOT}deploy/grafana/omni-phone-bridge.json`;

/** Series Prometheus makes itself, and the labels it puts on every scraped series. */
const PROMETHEUS_SERIES = new Set(['up']);
const TARGET_LABELS = ['instance', 'job'];
const KEYWORDS = new Set([
  'by',
  'without',
  'and',
  'or',
  'unless',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
]);

/** name → its label names, as the bridge serves them */
type Families = Map<string, Set<string>>;

/** Where an expression names a metric or a label that the bridge does not have (empty: none). */
function problemsOf(expr: string, families: Families): string[] {
  const problems: string[] = [];
  const labelsOf = (name: string): Set<string> | undefined => {
    if (PROMETHEUS_SERIES.has(name)) return new Set(TARGET_LABELS);
    const direct = families.get(name);
    if (direct) return new Set([...direct, ...TARGET_LABELS]);
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    const base = m ? families.get(m[1]!) : undefined;
    if (!base) return undefined;
    return new Set([...base, ...TARGET_LABELS, ...(m![2] === 'bucket' ? ['le'] : [])]);
  };
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const used = new Set<string>();
  // selectors: name{label op "…", …}
  for (const m of text.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const labels = labelsOf(m[1]!);
    if (!labels) continue; // reported below with the other names
    for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g))
      if (!labels.has(l[1]!)) problems.push(`${m[1]} has no label ${l[1]}`);
  }
  const bare = text.replace(/\{[^}]*\}/g, '');
  const groupings = [...bare.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].map((m) => m[1]!);
  const names = bare.replace(/\b(?:by|without|on|ignoring)\s*\([^)]*\)/g, '');
  for (const m of names.matchAll(/(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const name = m[1]!;
    if (KEYWORDS.has(name)) continue;
    if (!labelsOf(name)) problems.push(`no metric ${name}`);
    else used.add(name);
  }
  const known = new Set([...used].flatMap((n) => [...labelsOf(n)!]));
  for (const list of groupings)
    for (const l of list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean))
      if (!known.has(l)) problems.push(`by/on (${l}): no metric of the expression has it`);
  return problems;
}

interface Expr {
  where: string;
  expr: string;
}

function ruleExprs(): Expr[] {
  const doc = parseYaml(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
}

function dashboardExprs(): Expr[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
    templating: { list: { name: string; definition: string }[] };
  };
  const out: Expr[] = d.panels.flatMap((p) => p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
  for (const v of d.templating.list) {
    // label_values(metric, label): Grafana's, not PromQL; the same check as a selector's
    const m = /^label_values\(\s*([\w:]+)\s*,\s*(\w+)\s*\)$/.exec(v.definition);
    if (!m) throw new Error(`variable ${v.name}: not label_values(metric, label): ${v.definition}`);
    out.push({ where: `variable $${v.name}`, expr: `${m[1]}{${m[2]}=""}` });
  }
  return out.map((e) => ({ ...e, expr: e.expr.replace(/\$(\w+)/g, 'X') }));
}

let h: Harness;
let families: Families;

beforeAll(async () => {
  h = await startHarness();
  const served = await scrapeMetrics(h.bridgeUrl);
  const names = new Set([...served.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!));
  families = new Map();
  for (const m of h.bridge.ctx.metrics.registry.getMetricsAsArray() as unknown as {
    name: string;
    labelNames?: string[];
  }[])
    if (names.has(m.name)) families.set(m.name, new Set(m.labelNames ?? []));
  expect(families.size).toBeGreaterThan(30); // the scrape and the registry were read at all
}, 30_000);
afterAll(() => h?.close());

describe('the shipped dashboard and alert rules', () => {
  it('name only metrics and labels the bridge serves on /metrics', () => {
    const exprs = [...ruleExprs(), ...dashboardExprs()];
    expect(exprs.length).toBeGreaterThan(15);
    const problems = exprs.flatMap((e) => problemsOf(e.expr, families).map((p) => `${e.where}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('the alerts cover stuck calls, engine errors, tool error rate, p95 latency and replicas not ready', () => {
    const alerts = ruleExprs().map((e) => e.where);
    for (const a of [
      'BridgeCallsStuck',
      'BridgeEngineErrors',
      'BridgeToolErrorRateHigh',
      'BridgeVoiceToVoiceP95High',
      'BridgeReplicaNotReady',
    ])
      expect(alerts).toContain(`alert ${a}`);
  });

  it('the check itself catches a misspelt metric, a label the metric lacks and a by() on nothing', () => {
    expect(problemsOf('sum(rate(bridge_calls_totl[5m]))', families)).toEqual(['no metric bridge_calls_totl']);
    expect(problemsOf('bridge_active_calls{agent="a"}', families)).toEqual(['bridge_active_calls has no label agent']);
    expect(problemsOf('sum by (tool) (rate(bridge_calls_total[5m]))', families)).toEqual([
      'by/on (tool): no metric of the expression has it',
    ]);
    // a histogram's series, with le on its buckets only
    expect(
      problemsOf('histogram_quantile(0.9, sum by (le) (rate(bridge_tool_duration_seconds_bucket[5m])))', families),
    ).toEqual([]);
    expect(problemsOf('bridge_tool_duration_seconds_count{le="1"}', families)).toEqual([
      'bridge_tool_duration_seconds_count has no label le',
    ]);
  });

  it.skipIf(spawnSync('promtool', ['--version']).error !== undefined)(
    'promtool check rules accepts the rules file',
    () => {
      const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toMatch(/SUCCESS: \d+ rules found/);
      expect(r.status).toBe(0);
    },
  );
});
