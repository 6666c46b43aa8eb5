/**
 * npm run bench: 100,000 items through the Freshness Check and the Completeness Check
 * (10 rules), measured two ways side by side: the node's own code (lib/, what the node runs per
 * item) and the whole node inside n8n's real engine (WorkflowExecute, as in production).
 * Target: at most 5 µs per rule per item in the node's own code.
 */
import type { IDataObject, INode } from 'n8n-workflow';

import { compileRules, evaluate, type RuleInput } from '../lib/completeness';
import { judge, parseTimestamp, resolveSettings } from '../lib/freshness';
import { runNode } from '../test/nodes/helpers';

const N = Number(process.env.BENCH_ITEMS ?? 100_000);
const NOW = Date.parse('2024-05-10T12:00:00Z');

const items: IDataObject[] = Array.from({ length: N }, (_, i) => ({
	id: `doc-${i}`,
	updatedAt: new Date(NOW - (i % 100) * 3_600_000).toISOString(),
	customer: { id: i % 7 ? `c-${i}` : '', name: 'Ada Lovelace', email: 'ada@example.com' },
	total: (i % 500) - 10,
	currency: i % 11 ? 'EUR' : 'XYZ',
	lines: [
		{ sku: 'A', qty: 1 },
		{ sku: 'B', qty: 2 },
	],
	account: i % 5 ? { id: 'A-1', data: { balance: 1 } } : { id: 'A-2' },
	text: '## Summary\nThe text.\n## Terms\nMore text of the agreement, long enough to pass.\n## Risks\nNone.',
	issuedAt: '2024-05-01',
}));

const RULES: RuleInput[] = [
	{ path: 'id', check: 'notEmpty' },
	{ path: 'customer.id', check: 'notEmpty' },
	{ path: 'customer.email', check: 'regex', value: '^[^@\\s]+@[^@\\s]+$' },
	{ path: 'total', check: 'min', value: 0 },
	{ path: 'currency', check: 'oneOf', value: 'EUR, USD, GBP', severity: 'scored' },
	{ path: 'lines', check: 'minItems', value: 1 },
	{ path: 'account.data', check: 'requiredIf', ifPath: 'account.id' },
	{
		path: 'text',
		check: 'sections',
		sectionsIn: 'headings',
		sections: ['Summary', 'Terms', 'Risks'],
	},
	{ path: 'text', check: 'textQuality', minChars: 20, maxBadPercent: 5 },
	{ path: 'issuedAt', check: 'date', severity: 'scored' },
];

function time<T>(fn: () => T): { ms: number; result: T } {
	const t0 = process.hrtime.bigint();
	const result = fn();
	return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
	const t0 = process.hrtime.bigint();
	const result = await fn();
	return { ms: Number(process.hrtime.bigint() - t0) / 1e6, result };
}

const viaEngine = (type: string, parameters: INode['parameters']) =>
	runNode(type, parameters, items);

async function main() {
	const rows: Array<[string, number, string]> = [];
	const row = (label: string, ms: number, extra = '') => rows.push([label, ms, extra]);

	// Freshness: the node's own code
	const settings = resolveSettings(
		{
			format: 'auto',
			warnAfter: { count: 1, period: 'day' },
			errorAfter: { count: 3, period: 'day' },
		},
		NOW,
	);
	const fresh = time(() => {
		let stale = 0;
		for (const item of items) {
			if (
				judge(parseTimestamp(item.updatedAt, settings.parse), settings.nowMs, settings.rules)
					.status === 'stale'
			)
				stale++;
		}
		return stale;
	});
	row('Freshness Check, own code (parse + judge)', fresh.ms, `${fresh.result} stale`);

	const freshEngine = await timeAsync(() =>
		viaEngine('freshnessCheck', {
			warnAfter: 1,
			warnAfterUnit: 'day',
			errorAfter: 3,
			errorAfterUnit: 'day',
			options: { referenceTime: new Date(NOW).toISOString() },
		}),
	);
	if (freshEngine.result.error) throw freshEngine.result.error;
	row(
		'Freshness Check, whole node in WorkflowExecute',
		freshEngine.ms,
		`outputs ${freshEngine.result.outputs.Node.map((o) => o.length).join('/')}`,
	);

	// Completeness: the node's own code, 10 rules
	const compiled = compileRules(RULES);
	const none = time(() => {
		for (const item of items) evaluate(item, [], 80);
	});
	const complete = time(() => {
		let incomplete = 0;
		for (const item of items) if (!evaluate(item, compiled, 80).complete) incomplete++;
		return incomplete;
	});
	const perRuleUs = ((complete.ms - none.ms) * 1000) / (N * RULES.length);
	row('Completeness Check, own code, 0 rules', none.ms);
	row(
		`Completeness Check, own code, ${RULES.length} rules`,
		complete.ms,
		`${complete.result} incomplete; ${perRuleUs.toFixed(2)} µs per rule per item (target ≤ 5)`,
	);

	const completeEngine = await timeAsync(() =>
		viaEngine('completenessCheck', {
			rulesSource: 'json',
			rulesJson: JSON.stringify(RULES),
			minScore: 80,
		}),
	);
	if (completeEngine.result.error) throw completeEngine.result.error;
	row(
		`Completeness Check, whole node in WorkflowExecute`,
		completeEngine.ms,
		`outputs ${completeEngine.result.outputs.Node.map((o) => o.length).join('/')}`,
	);

	const width = Math.max(...rows.map((r) => r[0].length));
	process.stdout.write(`\n${N.toLocaleString('en')} items, Node ${process.version}\n\n`);
	process.stdout.write(
		`${'case'.padEnd(width)}  ${'ms'.padStart(8)}  ${'items/s'.padStart(11)}  notes\n`,
	);
	for (const [label, ms, extra] of rows) {
		const perSec = Math.round((N / ms) * 1000).toLocaleString('en');
		process.stdout.write(
			`${label.padEnd(width)}  ${ms.toFixed(0).padStart(8)}  ${perSec.padStart(11)}  ${extra}\n`,
		);
	}
	process.stdout.write(
		`\nheap used after the runs: ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB\n`,
	);
	if (perRuleUs > 5) process.exitCode = 1;
}

main().catch((error: Error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
