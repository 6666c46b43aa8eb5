/**
 * The per-execution budget (Options → Budget (USD)): once the answers of this node in this
 * execution cost the budget, further attempts are refused as budget_exceeded. Spend is kept per
 * execution and node in this process, so a budget holds across the runs of a loop in one execution.
 */
import { AiCallError } from './failure';
import type { AiPolicy } from './policy';
import { costOf, type Price } from './pricing';

const spentUsd = new Map<string, { usd: number; at: number }>();
/** Long past any execution: spend older than this is forgotten. */
const FORGET_MS = 86_400_000;

export interface ExecutionBudgetOptions {
	/** The execution and node, e.g. `${executionId}:${nodeId}`. */
	key: string;
	/** 0: no budget (spend is counted all the same). */
	budgetUsd: number;
	overrides: Record<string, Price>;
	now?: () => number;
}

export function executionBudget(o: ExecutionBudgetOptions): AiPolicy {
	const now = o.now ?? Date.now;
	for (const [k, v] of spentUsd) if (now() - v.at > FORGET_MS) spentUsd.delete(k);
	const spent = () => spentUsd.get(o.key)?.usd ?? 0;
	return {
		name: 'execution budget',
		async enter(call, { target }) {
			if (o.budgetUsd > 0 && spent() >= o.budgetUsd) {
				return new AiCallError(
					'budget_exceeded',
					`The budget of ${o.budgetUsd} USD for this execution is spent (${spent().toFixed(4)} USD)`,
				);
			}
			return {
				// Every answer at its own model's price (a fallback may cost more than the model).
				release: async ({ error, refused, cancelled, inputTokens, outputTokens }) => {
					if (error || refused || cancelled) return;
					const { totalUsd } = costOf(
						target.model,
						inputTokens,
						outputTokens,
						o.overrides,
						call.costTag,
					);
					spentUsd.set(o.key, { usd: spent() + totalUsd, at: now() });
				},
			};
		},
	};
}
