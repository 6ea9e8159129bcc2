/** Evaluators (rule-based, reference-based, LLM-as-judge) and the runner that records their scores. */
export * from './types';
export * from './rules';
export * from './reference';
export * from './llmJudge';
export * from './runner';
