import type { UsageEvent } from '../../lib/ai/ledger';

/** One AI Call's usage event as the ledger gets it: a priced success at `at`, changed by `over`. */
export function usageEvent(at: number, over: Partial<UsageEvent> = {}): UsageEvent {
	return {
		outcome: 'success',
		provider: 'openai',
		model: 'sim-standard',
		inputTokens: 100,
		outputTokens: 50,
		cost: { inputUsd: 0.0001, outputUsd: 0.0002, totalUsd: 0.0003, tag: 'doc', priced: true },
		latencyMs: 120,
		attempts: 1,
		retries: 0,
		timeouts: 0,
		fallbackUsed: false,
		at,
		workflowId: 'w1',
		workflowName: 'Pipeline',
		executionId: 'e1',
		node: 'AI Call',
		tag: 'doc',
		...over,
	};
}
