import {
	NodeConnectionTypes,
	NodeOperationError,
	type IDataObject,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import { BudgetBook } from '../../lib/ai/budget';
import { view as budgetView } from '../../lib/ai/budgetPolicy';
import { ledgerFor, reportWindow, usageReport, type GroupBy } from '../../lib/ai/ledger';
import { ALERT_KINDS, stateChanges, type AlertKind } from '../../lib/metrics/alerts';
import { readDashboard, readSnapshot, readStates } from '../../lib/metrics/collect';
import { renderDashboard } from '../../lib/metrics/dashboard';
import {
	CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE,
	prometheusText,
} from '../../lib/metrics/prometheus';
import { StoreError } from '../../lib/stores/common';
import { describeValue, readNumber, text } from '../../lib/values';
import { budgetScopeKey, budgetSpec, type BudgetValues } from '../shared/budget';
import { itemParameter } from '../shared/parameters';
import { outputsByOperation } from '../shared/outputs';
import { openStore, storeCredentials } from '../shared/store';
import { properties } from './properties';

type Operation =
	| 'recordOutcome'
	| 'report'
	| 'checkBudget'
	| 'metrics'
	| 'dashboard'
	| 'stateChanges';

/** Output names per operation; an item leaves on exactly one of them. */
const OUTPUTS: Record<Operation, string[]> = {
	recordOutcome: ['Recorded', 'Invalid'],
	report: ['Report'],
	checkBudget: ['Within', 'Warn', 'Exceeded', 'Invalid'],
	metrics: ['Metrics'],
	dashboard: ['Page'],
	stateChanges: ['Changes'],
};
const BUDGET_OUTPUT = { within: 0, warn: 1, exceeded: 2 } as const;

const MAX_TAG = 200;

export class AiUsage implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'AI Usage',
		name: 'aiUsage',
		icon: { light: 'file:aiUsage.svg', dark: 'file:aiUsage.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: `={{ (${JSON.stringify({
			recordOutcome: 'Record Outcome',
			report: 'Report',
			checkBudget: 'Check Budget',
			metrics: 'Prometheus Metrics',
			dashboard: 'Dashboard Page',
			stateChanges: 'Watch State Changes',
		})})[$parameter["operation"]] }}`,
		description:
			'AI cost and usage across executions and workers: cost per business outcome, reports, budgets, Prometheus metrics, a dashboard and alerts',
		defaults: { name: 'AI Usage' },
		usableAsTool: undefined, // not an agent tool (no "… Tool" variant)
		inputs: [NodeConnectionTypes.Main],
		outputs: outputsByOperation(OUTPUTS),
		credentials: storeCredentials,
		properties,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const operation = this.getNodeParameter('operation', 0) as Operation;
		const outputs: INodeExecutionData[][] = OUTPUTS[operation].map(() => []);
		if (!items.length) return outputs;
		const node = this.getNode();
		const config = (i: number, message: string) =>
			new NodeOperationError(node, `Item ${i}: ${message}`, { itemIndex: i });
		const store = await openStore(this);
		const emit = (output: number, i: number, json: IDataObject) =>
			outputs[output].push({ json, pairedItem: { item: i } });
		const storeFailed = (i: number, error: unknown) =>
			error instanceof NodeOperationError
				? error
				: config(
						i,
						error instanceof StoreError
							? `the usage store failed: ${error.message}`
							: (error as Error).message,
					);

		if (operation === 'recordOutcome') {
			const tag = itemParameter<unknown>(this, 'outcomeTag', '');
			const count = itemParameter<unknown>(this, 'outcomeCount', 1);
			const writer = ledgerFor(store);
			writer.warn = (message) => this.logger.warn(message);
			const at = Date.now();
			for (let i = 0; i < items.length; i++) {
				const invalid = (field: string, reason: string) =>
					emit(1, i, {
						...items[i].json,
						outcome: { recorded: false, reason: `"${field}" ${reason}` },
					});
				let name: string;
				try {
					name = text(tag(i), 'Outcome Tag').trim();
				} catch (error) {
					invalid('Outcome Tag', (error as Error).message);
					continue;
				}
				if (!name) {
					invalid('Outcome Tag', 'is empty for this item');
					continue;
				}
				if (name.length > MAX_TAG) {
					invalid('Outcome Tag', `is longer than ${MAX_TAG} characters`);
					continue;
				}
				const raw = count(i);
				const n = readNumber(raw);
				if (n === undefined || n < 0 || n > 1e9) {
					invalid('Count', `is not a number from 0 to 1,000,000,000 (got ${describeValue(raw)})`);
					continue;
				}
				writer.recordOutcome({ at, tag: name, count: n });
				emit(0, i, {
					...items[i].json,
					outcome: { recorded: true, tag: name, count: n, store: store.kind },
				});
			}
			// written in the background within a second; a report right after finds it (it flushes)
			return outputs;
		}

		const zone = this.getTimezone();
		// read once for all items: the page is the same for each
		if (operation === 'metrics' || operation === 'dashboard') {
			let json: IDataObject;
			try {
				if (operation === 'metrics') {
					const text = prometheusText(await readSnapshot(store));
					json = { metrics: text, contentType: PROMETHEUS_CONTENT_TYPE, store: store.kind };
				} else {
					const days = readNumber(this.getNodeParameter('dashboardDays', 0, 14));
					if (days === undefined || !Number.isInteger(days) || days < 1 || days > 90)
						throw config(0, `"Days of Cost" must be a whole number from 1 to 90`);
					const data = await readDashboard(store, { timeZone: zone, days });
					json = {
						html: renderDashboard(data),
						contentType: 'text/html; charset=utf-8',
						store: store.kind,
					};
				}
			} catch (error) {
				throw storeFailed(0, error);
			}
			for (let i = 0; i < items.length; i++) emit(0, i, json);
			return outputs;
		}
		if (operation === 'stateChanges') {
			const kinds = new Set(this.getNodeParameter('watch', 0, ALERT_KINDS) as AlertKind[]);
			const includeResolved = this.getNodeParameter('includeResolved', 0, true) as boolean;
			let changes;
			try {
				changes = await stateChanges(store, await readStates(store), kinds);
			} catch (error) {
				throw storeFailed(0, error);
			}
			for (const change of changes)
				if (includeResolved || change.severity !== 'resolved')
					emit(0, 0, { ...change, store: store.kind } as unknown as IDataObject);
			return outputs;
		}
		if (operation === 'report') {
			const window = itemParameter<string>(this, 'window', 'today');
			const from = itemParameter<unknown>(this, 'from', '');
			const to = itemParameter<unknown>(this, 'to', '');
			const groupBy = itemParameter<GroupBy>(this, 'groupBy', 'tag');
			const filterTag = itemParameter<unknown>(this, 'filterTag', '');
			const filterWorkflow = itemParameter<unknown>(this, 'filterWorkflow', '');
			// this process's own buffered calls count too
			await ledgerFor(store).flush();
			for (let i = 0; i < items.length; i++) {
				const range = reportWindow(window(i), from(i), to(i), zone, Date.now());
				if (typeof range === 'string') throw config(i, range);
				const tag = String(filterTag(i) ?? '').trim();
				const workflowId = String(filterWorkflow(i) ?? '').trim();
				try {
					const rows = await usageReport(store, {
						...range,
						groupBy: groupBy(i),
						timeZone: zone,
						tag: tag || undefined,
						workflowId: workflowId || undefined,
					});
					for (const row of rows)
						emit(0, i, { ...row, store: store.kind } as unknown as IDataObject);
				} catch (error) {
					throw storeFailed(i, error);
				}
			}
			return outputs;
		}

		// Check Budget
		const book = new BudgetBook(store);
		const values = (i: number) =>
			Object.fromEntries(
				[
					'budgetName',
					'budgetScope',
					'budgetWorkflowId',
					'budgetTag',
					'budgetKey',
					'budgetPeriod',
					'budgetRollingHours',
					'budgetTimeZone',
					'budgetLimitUsd',
					'budgetLimitTokens',
					'budgetWarnPercent',
				].map((name) => [name, this.getNodeParameter(name, i, null)]), // null: hidden for this scope
			) as BudgetValues;
		for (let i = 0; i < items.length; i++) {
			const v = values(i);
			let spec;
			try {
				spec = budgetSpec(v, zone);
			} catch (error) {
				throw config(i, (error as Error).message);
			}
			const scope = budgetScopeKey(v, {
				workflowId: String(this.getWorkflow().id ?? ''),
				costTag: null,
			});
			if ('issue' in scope) {
				emit(3, i, {
					...items[i].json,
					budget: { name: spec.name, status: 'invalid', reason: scope.issue },
				});
				continue;
			}
			try {
				const state = await book.check({ spec, scopeKey: scope.key });
				emit(BUDGET_OUTPUT[state.status as keyof typeof BUDGET_OUTPUT], i, {
					...items[i].json,
					budget: { ...budgetView(state), store: store.kind },
				});
			} catch (error) {
				throw storeFailed(i, error);
			}
		}
		return outputs;
	}
}
