import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * deploy/k8s as Kubernetes would get it: rendered by `kubectl kustomize` (the real tool), then read
 * for what keeps calls up through a rollout — readiness on /readyz, a preStop before the drain, a
 * grace period longer than preStop + the drain, a budget and an autoscaler that select the
 * Deployment's own pods and metric, and no secret written into the manifests.
 */

const ROOT = new URL('../../', import.meta.url).pathname;
const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: unknown };
}
interface Container {
  env: EnvVar[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: { httpGet: { path: string } };
  livenessProbe: { httpGet: { path: string } };
  lifecycle: { preStop: { exec: { command: string[] } } };
  resources: { requests: { cpu?: string }; limits: { memory?: string } };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot?: boolean };
}
/** the fields of the rendered kinds this test reads */
interface Spec {
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  strategy: { rollingUpdate: { maxUnavailable: number } };
  selector: { matchLabels?: Record<string, string> } & Record<string, string>;
  scaleTargetRef: { kind: string; name: string };
  metrics: { pods: { metric: { name: string } } }[];
  minReplicas: number;
  rules: { http: { paths: { path: string }[] } }[];
}
type Doc = { kind: string; metadata: { name: string }; spec: Spec };

function render(): Doc[] {
  const r = spawnSync(KUBECTL!, ['kustomize', `${ROOT}deploy/k8s`], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout).map((d) => d.toJSON() as Doc);
}

describe.skipIf(!KUBECTL && !process.env.CI)('deploy/k8s, rendered by kubectl kustomize', () => {
  it('drains before it stops: readiness on /readyz, a preStop, and a grace period above preStop plus the drain', () => {
    const docs = render();
    const dep = docs.find((d) => d.kind === 'Deployment')!;
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    const env = new Map(c.env.map((e) => [e.name, e]));
    const preStopS = Number(c.lifecycle.preStop.exec.command.at(-1));
    expect(preStopS).toBeGreaterThan(0);
    const drainMs = Number(env.get('DRAIN_TIMEOUT_MS')!.value);
    const moveAfterMs = 2000; // bridge.fleet.drain_move_after_ms's default
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopS * 1000 + drainMs + moveAfterMs);
    // the port the probes name is the one the bridge listens on
    expect(c.ports.find((p) => p.name === 'http')!.containerPort).toBe(Number(env.get('PORT')!.value));
    expect(dep.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.resources.requests.cpu).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
  });

  it('reads every secret from a Secret, and names only variables the bridge knows', () => {
    const c = render().find((d) => d.kind === 'Deployment')!.spec.template.spec.containers[0]!;
    const known = readFileSync(`${ROOT}.env.example`, 'utf8');
    for (const e of c.env) {
      expect(known, `${e.name} is not in .env.example`).toMatch(new RegExp(`\\b${e.name}=`));
      if (/TOKEN|KEY|SECRET|PASSWORD|REDIS_URL|DATABASE_URL/.test(e.name) && e.name !== 'REDIS_KEY_PREFIX')
        expect(e.valueFrom?.secretKeyRef, `${e.name} must come from a Secret`).toBeDefined();
    }
  });

  it('the budget, the service and the autoscaler select the Deployment and the metric the bridge exports', () => {
    const docs = render();
    const dep = docs.find((d) => d.kind === 'Deployment')!;
    const labels = dep.spec.template.metadata.labels;
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
    expect(pdb.spec.selector.matchLabels).toEqual(labels); // an empty selector would cover the namespace
    expect(docs.find((d) => d.kind === 'Service')!.spec.selector).toEqual(labels);
    const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler')!;
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: dep.metadata.name });
    const metric = hpa.spec.metrics[0]!.pods.metric.name;
    expect(readFileSync(`${ROOT}src/observability/metrics.ts`, 'utf8')).toContain(`name: '${metric}'`);
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    // only Twilio's paths are public
    const ingress = docs.find((d) => d.kind === 'Ingress')!;
    const paths = ingress.spec.rules.flatMap((r: { http: { paths: { path: string }[] } }) =>
      r.http.paths.map((p) => p.path),
    );
    expect(paths).toEqual(['/twilio/']);
  });
});
