/** Token prices (USD per million tokens) and the cost of a call. */
import { z } from 'zod/v4';

export interface Price {
	input: number;
	output: number;
}

/**
 * List prices of current models, USD per million tokens (standard tier, no batch or cache
 * discounts). Patterns end in `*` for dated and suffixed variants. Check your contract: override
 * them in the node (Options → Price Overrides) where you pay something else.
 */
export const PRICES: Record<string, Price> = {
	// OpenAI
	'gpt-5*': { input: 1.25, output: 10 },
	'gpt-5-mini*': { input: 0.25, output: 2 },
	'gpt-5-nano*': { input: 0.05, output: 0.4 },
	'gpt-4.1*': { input: 2, output: 8 },
	'gpt-4.1-mini*': { input: 0.4, output: 1.6 },
	'gpt-4.1-nano*': { input: 0.1, output: 0.4 },
	'gpt-4o*': { input: 2.5, output: 10 },
	'gpt-4o-mini*': { input: 0.15, output: 0.6 },
	'o3*': { input: 2, output: 8 },
	'o3-mini*': { input: 1.1, output: 4.4 },
	'o4-mini*': { input: 1.1, output: 4.4 },
	'gpt-3.5-turbo*': { input: 0.5, output: 1.5 },
	// Anthropic
	'claude-opus-4-5*': { input: 5, output: 25 },
	'claude-opus-4*': { input: 15, output: 75 },
	'claude-sonnet-4*': { input: 3, output: 15 },
	'claude-haiku-4*': { input: 1, output: 5 },
	'claude-3-7-sonnet*': { input: 3, output: 15 },
	'claude-3-5-sonnet*': { input: 3, output: 15 },
	'claude-3-5-haiku*': { input: 0.8, output: 4 },
	'claude-3-haiku*': { input: 0.25, output: 1.25 },
	// The simulator's models, so demos and drills show costs
	'sim-small': { input: 0.1, output: 0.4 },
	'sim-standard': { input: 1, output: 4 },
	'sim-large': { input: 5, output: 20 },
};

const priceSchema = z.strictObject({
	input: z.number().nonnegative(),
	output: z.number().nonnegative(),
});
const overridesSchema = z.record(
	z.string().regex(/^[^*]+\*?$|^\*$/, 'a model name, optionally ending in * (a prefix pattern)'),
	priceSchema,
);

/** Validates user overrides, e.g. {"my-model*": {"input": 0.5, "output": 1.5}}; throws naming the entry. */
export function parsePriceOverrides(raw: unknown): Record<string, Price> {
	if (raw === undefined || raw === null || raw === '') return {};
	let value = raw;
	if (typeof raw === 'string') {
		try {
			value = JSON.parse(raw);
		} catch (error) {
			throw new Error(`"Price Overrides" is not valid JSON: ${(error as Error).message}`);
		}
	}
	const parsed = overridesSchema.safeParse(value);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue.path.length ? ` at "${issue.path.join('.')}"` : '';
		throw new Error(
			`"Price Overrides"${where}: ${issue.message}. Expected {"model-or-prefix*": {"input": 2.5, "output": 10}} in USD per million tokens`,
		);
	}
	return parsed.data;
}

/** The price of a model: exact name first, then the longest matching prefix pattern; overrides win. */
export function priceOf(model: string, overrides: Record<string, Price> = {}): Price | undefined {
	for (const table of [overrides, PRICES]) {
		if (table[model]) return table[model];
		let best: string | undefined;
		for (const pattern of Object.keys(table)) {
			if (!pattern.endsWith('*')) continue;
			const prefix = pattern.slice(0, -1);
			if (model.startsWith(prefix) && (!best || prefix.length > best.length - 1)) best = pattern;
		}
		if (best) return table[best];
	}
	return undefined;
}

export interface Cost {
	inputUsd: number;
	outputUsd: number;
	totalUsd: number;
	tag: string | null;
	/** false when no price is known for the model: the amounts are 0, not free. */
	priced: boolean;
}

const round = (usd: number) => Math.round(usd * 1e9) / 1e9;

export function costOf(
	model: string,
	inputTokens: number,
	outputTokens: number,
	overrides: Record<string, Price>,
	tag: string | null,
): Cost {
	const price = priceOf(model, overrides);
	if (!price) return { inputUsd: 0, outputUsd: 0, totalUsd: 0, tag, priced: false };
	const inputUsd = round((inputTokens * price.input) / 1e6);
	const outputUsd = round((outputTokens * price.output) / 1e6);
	return { inputUsd, outputUsd, totalUsd: round(inputUsd + outputUsd), tag, priced: true };
}

export function addCosts(a: Cost, b: Cost): Cost {
	return {
		inputUsd: round(a.inputUsd + b.inputUsd),
		outputUsd: round(a.outputUsd + b.outputUsd),
		totalUsd: round(a.totalUsd + b.totalUsd),
		tag: a.tag,
		priced: a.priced && b.priced,
	};
}
