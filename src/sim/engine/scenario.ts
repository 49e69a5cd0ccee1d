/**
 * Scripted conversations for the offline engine (JSON or YAML). Each step is an object with one
 * distinguishing key; steps are validated one by one against the schema for that key, so an error
 * names the step and the field ("steps[3].tool_call.name: ...") instead of a union's noise.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { issueLines, strictKeysErrorMap } from '../../config/suggest.js';
import { parsePacing } from './pacing.js';

const ms = z.number().int().min(0).max(600_000);
const digit = z.string().regex(/^[0-9*#A-D]$/, 'a single DTMF key (0-9 * # A-D)');
const codeField = z.union([z.string(), z.number()]).optional();

/** Codes a close frame may carry, plus 1006, which the engine produces by dropping the socket. */
const closeCode = z
  .number()
  .int()
  .refine(
    (c) =>
      c === 1000 ||
      c === 1001 ||
      c === 1002 ||
      c === 1003 ||
      c === 1006 ||
      (c >= 1007 && c <= 1014) ||
      (c >= 3000 && c <= 4999),
    'a valid WebSocket close code (1000-1003, 1006, 1007-1014, 3000-4999)',
  );

export const VERBS = ['transfer_to_human', 'send_dtmf', 'play_hold', 'collect', 'end_call'] as const;

const STEP_SCHEMAS = {
  say: z
    .object({
      say: z.string().min(1),
      /** go on with the next step at once while this is spoken (a real engine emits a verb mid-utterance) */
      no_wait: z.boolean().optional(),
    })
    .strict(),
  wait_for_caller: z
    .object({
      wait_for_caller: z.literal(true),
      /** what the caller is expected to say: used as the user transcript text */
      expect: z.string().optional(),
      timeout_ms: ms.optional(),
    })
    .strict(),
  wait_ms: z.object({ wait_ms: ms }).strict(),
  wait_for_dtmf: z
    .object({
      wait_for_dtmf: z
        .object({
          count: z.number().int().min(1).max(64).optional(),
          until: digit.optional(),
          timeout_ms: ms.optional(),
        })
        .strict(),
    })
    .strict(),
  tool_call: z
    .object({
      tool_call: z
        .object({
          name: z.string().min(1),
          arguments: z.record(z.string(), z.unknown()).default({}),
          call_id: z.string().min(1).optional(),
          /** spoken after the result, `{{field}}` filled from the tool_result output */
          say_template: z.string().optional(),
          timeout_ms: ms.optional(),
        })
        .strict(),
    })
    .strict(),
  verb: z
    .object({
      verb: z.enum(VERBS),
      args: z.record(z.string(), z.unknown()).default({}),
      call_id: z.string().min(1).optional(),
      await_result: z.boolean().default(false),
      timeout_ms: ms.optional(),
    })
    .strict(),
  error: z.object({ error: z.object({ code: codeField, message: z.string().optional() }).strict() }).strict(),
  warning: z.object({ warning: z.object({ code: codeField, message: z.string().optional() }).strict() }).strict(),
  close: z.object({ close: z.object({ code: closeCode, reason: z.string().max(120).optional() }).strict() }).strict(),
} as const;

type StepSchemas = typeof STEP_SCHEMAS;
export type ScenarioStep = { [K in keyof StepSchemas]: z.output<StepSchemas[K]> }[keyof StepSchemas];
export type StepKind = keyof StepSchemas;

export interface Scenario {
  name?: string;
  /** agent audio rate of sessions running this scenario (the input rate when absent) */
  output_rate?: number;
  /** what the agent does once the steps are done: stay silent, or become the echo agent */
  after: 'idle' | 'echo';
  /** how replies go on the wire (pacing.ts), e.g. 'chunks:150' */
  pacing?: string;
  dialect?: 'standard' | 'reference';
  steps: ScenarioStep[];
}

const headerSchema = z
  .object({
    name: z.string().optional(),
    output_rate: z.number().int().min(8000).max(48000).optional(),
    after: z.enum(['idle', 'echo']).default('idle'),
    pacing: z
      .string()
      .superRefine((v, ctx) => {
        try {
          parsePacing(v);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .optional(),
    dialect: z.enum(['standard', 'reference']).optional(),
    steps: z.array(z.unknown()).min(1, 'a scenario needs at least one step'),
  })
  .strict();

const STEP_KINDS = Object.keys(STEP_SCHEMAS) as StepKind[];

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

/** `path: message` per problem; an unknown key is named with the closest known one (`did you mean`). */
function describeIssues(prefix: string, error: z.ZodError): string {
  return issueLines(error.issues, [prefix]).join('; ');
}

/** The kind of a step: the key that names it (`say`, `tool_call`, ...). */
export function stepKind(step: ScenarioStep): StepKind {
  return STEP_KINDS.find((k) => k in step)!;
}

/** Validates a parsed scenario object. @throws ScenarioError with every problem, by path. */
export function parseScenario(value: unknown, source = 'scenario'): Scenario {
  const header = headerSchema.safeParse(value, { error: strictKeysErrorMap });
  if (!header.success) throw new ScenarioError(`${source}: ${describeIssues('scenario', header.error)}`);
  const problems: string[] = [];
  const steps: ScenarioStep[] = [];
  header.data.steps.forEach((raw, i) => {
    const at = `steps[${i}]`;
    const kind = typeof raw === 'object' && raw !== null ? STEP_KINDS.find((k) => k in raw) : undefined;
    if (!kind) {
      problems.push(`${at}: a step is an object with one of ${STEP_KINDS.join(', ')}`);
      return;
    }
    const parsed = STEP_SCHEMAS[kind].safeParse(raw, { error: strictKeysErrorMap });
    if (parsed.success) steps.push(parsed.data);
    else problems.push(describeIssues(at, parsed.error));
  });
  if (problems.length) throw new ScenarioError(`${source}: ${problems.join('; ')}`);
  const { name, output_rate, after, pacing, dialect } = header.data;
  return { name, output_rate, after, pacing, dialect, steps };
}

/** Reads a scenario from a .json, .yaml or .yml file. @throws ScenarioError naming the file. */
export async function loadScenario(path: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ScenarioError(
      `${path}: not valid ${extname(path) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
    );
  }
  return parseScenario(value, path);
}
