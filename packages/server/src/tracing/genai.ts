/**
 * The OpenTelemetry GenAI attribute names the turn spans use. They are incubating in
 * `@opentelemetry/semantic-conventions`, whose incubating entry loads every experimental name and
 * metric of every domain (about 4 MB of source, kept in every router's heap) for these six; a test
 * checks them against that entry (test/tracing-genai.test.ts).
 */
export const ATTR_GEN_AI_AGENT_NAME = 'gen_ai.agent.name';
export const ATTR_GEN_AI_AGENT_VERSION = 'gen_ai.agent.version';
export const ATTR_GEN_AI_CONVERSATION_ID = 'gen_ai.conversation.id';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
