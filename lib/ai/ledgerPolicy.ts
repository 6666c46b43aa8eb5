/** The usage ledger as a policy: every item's call ends up as one event (lib/ai/ledger.ts). */
import type { LedgerWriter } from './ledger';
import type { AiPolicy } from './policy';

export function ledgerPolicy(writer: LedgerWriter, eventTtlMs: number): AiPolicy {
	return {
		name: 'usage ledger',
		// only a buffer append: the store write happens in the background, batched
		async done(call, result) {
			writer.record(
				{
					...result,
					workflowId: call.workflow.id,
					workflowName: call.workflow.name,
					executionId: call.executionId,
					node: call.node,
					tag: call.costTag,
				},
				eventTtlMs,
			);
		},
	};
}
