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
	readSourceName,
	resolveSettings,
	SourceTally,
	type FreshnessResult,
	type ParseOptions,
	type Period,
	type TimestampFormat,
} from '../../lib/freshness';
import { MAX_ENTRIES, publishStatus } from '../../lib/metrics/status';
import { getPath, parsePath, type PathSegment } from '../../lib/path';
import { itemParameter } from '../shared/parameters';
import { openStore, storeCredentials } from '../shared/store';
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
		credentials: storeCredentials,
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
		const statusSource =
			this.getNodeParameter('publishStatus', 0, false) === true
				? itemParameter<unknown>(this, 'statusSource', '')
				: undefined;
		const tally = new SourceTally();

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

		/** Counts item i for its source; a name that cannot be published only skips it (why, returned). */
		const track = (i: number, result: FreshnessResult): string | undefined => {
			let raw: unknown;
			try {
				raw = statusSource!(i);
			} catch (error) {
				return `"Source Name" could not be evaluated for this item: ${(error as Error).message}`;
			}
			const read = readSourceName(raw);
			if ('skipped' in read) return read.skipped;
			// the store keeps MAX_ENTRIES sources anyway; more in one write would only evict each other
			if (!tally.has(read.name) && tally.size >= MAX_ENTRIES)
				return `more than ${MAX_ENTRIES} different "Source Name"s in one execution`;
			tally.add(read.name, result);
			return undefined;
		};

		/** One write for all sources; the store failing costs the metrics only, never the routing. */
		const finish = async () => {
			const entries = tally.entries();
			if (!entries.length) return outputs;
			try {
				await publishStatus(await openStore(this), 'freshness', entries);
			} catch (error) {
				this.logger.warn(
					`Freshness Check: the status of ${entries.length} source(s) could not be kept for the metrics (${(error as Error).message})`,
				);
			}
			return outputs;
		};

		const emit = (i: number, result: FreshnessResult & IDataObject, outputField: string) => {
			const publishSkipped = statusSource ? track(i, result) : undefined;
			if (publishSkipped) result = { ...result, publishSkipped };
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
			return await finish();
		}

		// Batch: one verdict for all items with a readable timestamp, from the oldest or the newest one.
		const c = config(0);
		const valid: Array<{ i: number; ts: number }> = [];
		for (let i = 0; i < items.length; i++) {
			const read = readTimestamp(i, c.parse);
			if (!invalid(i, read, c) && read.ok) valid.push({ i, ts: read.ms });
		}
		if (!valid.length) return await finish();
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
		return await finish();
	}
}
