/**
 * How a timeline line reads what the agent did (its words, tool calls and their results, verbs,
 * barge-ins), whoever learnt it: the demo from the offline engine's records (src/demo.ts), and
 * `omni-phone-bridge call` from the bridge's console feed (bridge-feed.ts). One wording for both.
 */
export const agentLine = {
  says: (text: string): string => `says "${text}"`,
  toolCall: (name: string, args: string): string => `tool_call ${name} ${args}`,
  toolResult: (name: string, output: string): string => `← tool_result ${name}: ${output}`,
  verb: (name: string, detail: string): string => `${name} ${detail}`,
  bargeIn: (): string => 'barge-in: stops talking',
};
