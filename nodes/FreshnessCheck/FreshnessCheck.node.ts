import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { readDate, type DateRead } from '../../lib/dates';
import {
	assess,
	resolveSettings,
	type FreshnessResult,
	type ParseOptions,
	type Period,
	type TimestampFormat,
} from '../../lib/freshness';
import { getPath, parsePath, type PathSegment } from '../../lib/path';
import { itemParameter } from '../shared/parameters';
import { properties } from './properties';

const OUTPUT = { fresh: 0, warn: 1, stale: 2 } as const;

interface Options {
	clockSkewSeconds?: number;
	defaultZone?: string;
	onInvalid?: 'stale' | 'error';
	outputField?: string;
	referenceTime?: unknown;
}

export class FreshnessCheck implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Freshness Check',
		name: 'freshnessCheck',
		icon: { light: 'file:freshnessCheck.svg', dark: 'file:freshnessCheck.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle:
			'={{ {"item": "each item", "oldest": "batch by oldest", "newest": "batch by newest"}[$parameter["mode"]] }}',
		description: 'Route data by its age (fresh / warn / stale) before it reaches an AI model',
		defaults: { name: 'Freshness Check' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant): that needs its own design and tests
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main, NodeConnectionTypes.Main, NodeConnectionTypes.Main],
		outputNames: ['Fresh', 'Warn', 'Stale'],
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const outputs: INodeExecutionData[][] = [[], [], []];
		if (!items.length) return outputs;

		const mode = this.getNodeParameter('mode', 0) as 'item' | 'oldest' | 'newest';
		const source = this.getNodeParameter('source', 0) as 'field' | 'expression';
		const options = itemParameter<Options>(this, 'options', {});
		const warnAfter = itemParameter<number>(this, 'warnAfter', 0);
		const warnAfterUnit = itemParameter<Period>(this, 'warnAfterUnit', 'day');
		const errorAfter = itemParameter<number>(this, 'errorAfter', 0);
		const errorAfterUnit = itemParameter<Period>(this, 'errorAfterUnit', 'day');
		const format = itemParameter<TimestampFormat>(this, 'format', 'auto');
		const customFormat = itemParameter<string>(this, 'customFormat', '');
		const field = source === 'field' ? itemParameter<string>(this, 'field', '') : undefined;
		const value = source === 'expression' ? itemParameter<unknown>(this, 'value') : undefined;
		const startedAt = Date.now();

		/** Everything configured for item i, checked; a mistake names the parameter and the item. */
		const config = (i: number) => {
			const opts = options(i);
			try {
				const resolved = resolveSettings(
					{
						...opts,
						warnAfter: { count: warnAfter(i), period: warnAfterUnit(i) },
						errorAfter: { count: errorAfter(i), period: errorAfterUnit(i) },
						format: format(i),
						customFormat: customFormat(i),
					},
					startedAt,
				);
				const outputField: unknown = opts.outputField || 'freshness';
				if (typeof outputField !== 'string')
					throw new NodeOperationError(
						this.getNode(),
						'"Put Result in Field" must be a field name',
						{
							itemIndex: i,
						},
					);
				return { ...resolved, onInvalid: opts.onInvalid ?? 'stale', outputField };
			} catch (error) {
				throw new NodeOperationError(this.getNode(), (error as Error).message, {
					itemIndex: i,
					description: `Item ${i}: fix the node's settings.`,
				});
			}
		};

		const where = (i: number) => (field ? `field "${field(i)}"` : 'the Timestamp expression');

		const readTimestamp = (i: number, parse: ParseOptions): DateRead => {
			let raw: unknown;
			if (field) {
				let path: PathSegment[];
				try {
					path = parsePath(field(i)); // cached by path text
				} catch (error) {
					throw new NodeOperationError(
						this.getNode(),
						`"Timestamp Field": ${(error as Error).message}`,
						{ itemIndex: i },
					);
				}
				raw = getPath(items[i].json, path).value;
			} else {
				raw = value!(i);
			}
			return readDate(raw, parse);
		};

		const emit = (i: number, result: FreshnessResult & IDataObject, outputField: string) => {
			outputs[OUTPUT[result.status]].push({
				json: { ...items[i].json, [outputField]: result },
				binary: items[i].binary,
				pairedItem: { item: i },
			});
		};

		/** A missing or unreadable timestamp: to Stale with its reason, or an error naming the item. */
		const invalid = (i: number, read: DateRead, c: ReturnType<typeof config>): boolean => {
			if (read.ok) return false;
			const result = assess(read, where(i), c.nowMs, c.rules);
			if (c.onInvalid === 'error' && !this.continueOnFail()) {
				throw new NodeOperationError(
					this.getNode(),
					`Item ${i}: the timestamp in ${where(i)} ${read.missing ? 'is missing' : 'is not a readable date'}`,
					{
						itemIndex: i,
						description: `${result.message}. Set "Missing or Unreadable Timestamp" to "Send to Stale With a Reason" to route such items instead.`,
					},
				);
			}
			emit(i, result as FreshnessResult & IDataObject, c.outputField);
			return true;
		};

		if (mode === 'item') {
			for (let i = 0; i < items.length; i++) {
				const c = config(i);
				const read = readTimestamp(i, c.parse);
				if (!invalid(i, read, c))
					emit(
						i,
						assess(read, where(i), c.nowMs, c.rules) as FreshnessResult & IDataObject,
						c.outputField,
					);
			}
			return outputs;
		}

		// Batch: one verdict for all items with a readable timestamp, from the oldest or the newest one.
		const c = config(0);
		const valid: Array<{ i: number; ts: number }> = [];
		for (let i = 0; i < items.length; i++) {
			const read = readTimestamp(i, c.parse);
			if (!invalid(i, read, c) && read.ok) valid.push({ i, ts: read.ms });
		}
		if (!valid.length) return outputs;
		const basis = valid.reduce((a, b) => ((mode === 'oldest' ? b.ts < a.ts : b.ts > a.ts) ? b : a));
		const verdict = assess({ ok: true, ms: basis.ts }, where(basis.i), c.nowMs, c.rules);
		for (const { i, ts } of valid) {
			emit(
				i,
				{
					...verdict,
					batch: {
						basis: mode,
						basisItem: basis.i,
						items: valid.length,
						itemTimestamp: new Date(ts).toISOString(),
					},
				},
				c.outputField,
			);
		}
		// Outputs keep input order within each branch.
		for (const out of outputs)
			out.sort(
				(a, b) => (a.pairedItem as { item: number }).item - (b.pairedItem as { item: number }).item,
			);
		return outputs;
	}
}
