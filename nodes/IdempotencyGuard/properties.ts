import type { INodeProperties } from 'n8n-workflow';

import { storeProperties } from '../shared/store';

const claim = { show: { operation: ['claim'] } };
const completeOrRelease = { show: { operation: ['complete', 'release'] } };

/** The Idempotency Guard's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Claim',
				value: 'claim',
				description: 'Claim the key before doing the work: New, Duplicate, In Progress or Conflict',
				action: 'Claim an idempotency key',
			},
			{
				name: 'Complete',
				value: 'complete',
				description: 'Store the result and mark the key completed, for later duplicates to replay',
				action: 'Complete an idempotency key',
			},
			{
				name: 'Release',
				value: 'release',
				description: 'Delete the claim so that a retry can run (the failure path)',
				action: 'Release an idempotency key',
			},
		],
		default: 'claim',
	},
	...storeProperties('claims', 'Claim, Complete and Release of one flow must use the same store.'),

	// Claim
	{
		displayName: 'Key From',
		name: 'keyFrom',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Expression',
				value: 'expression',
				description: 'E.g. the Idempotency-Key header or an event ID.',
			},
			{
				name: 'Hash of Fields',
				value: 'fields',
				description: 'SHA-256 of the chosen fields',
			},
			{
				name: 'Hash of Payload',
				value: 'payload',
				description:
					'SHA-256 of the webhook body (the body field of a Webhook item), or of the whole item when it has no body',
			},
		],
		default: 'expression',
		displayOptions: claim,
	},
	{
		displayName: 'Key',
		name: 'key',
		type: 'string',
		default: '={{ $json.headers?.["idempotency-key"] }}',
		description: 'Text or a number that names the request. Empty means the key is missing.',
		displayOptions: { show: { operation: ['claim'], keyFrom: ['expression'] } },
	},
	{
		displayName: 'Key Fields',
		name: 'keyFields',
		type: 'string',
		default: 'body.id',
		placeholder: 'body.event_id, body.type',
		description: 'Paths of the fields that make the key, comma-separated (dot or bracket notation)',
		displayOptions: { show: { operation: ['claim'], keyFrom: ['fields'] } },
	},
	{
		displayName: 'Key',
		name: 'key',
		type: 'string',
		default: '={{ $json.idempotency?.key }}',
		description:
			'The key the Claim gave out. If the item no longer carries it, read it from the Idempotency Guard (Claim) output with an expression.',
		displayOptions: completeOrRelease,
	},
	{
		displayName: 'Namespace',
		name: 'namespace',
		type: 'string',
		default: '={{ $workflow.id }}',
		description: 'Keys are unique within a namespace. Default: this workflow.',
		displayOptions: claim,
	},
	{
		displayName: 'Namespace',
		name: 'namespace',
		type: 'string',
		default: '={{ $json.idempotency?.namespace ?? $workflow.id }}',
		description: 'The namespace of the claim',
		displayOptions: completeOrRelease,
	},
	{
		displayName: 'Fingerprint',
		name: 'fingerprintFrom',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Hash of Fields',
				value: 'fields',
				description: 'Same key with other values in these fields goes to Conflict',
			},
			{
				name: 'Hash of Payload',
				value: 'payload',
				description:
					'Same key with another webhook body (or whole item, without a body field) goes to Conflict',
			},
			{
				name: 'None',
				value: 'none',
				description: 'Do not compare payloads',
			},
		],
		default: 'payload',
		displayOptions: claim,
	},
	{
		displayName: 'Fingerprint Fields',
		name: 'fingerprintFields',
		type: 'string',
		default: 'body',
		placeholder: 'body.amount, body.currency',
		description: 'Paths of the fields to compare, comma-separated',
		displayOptions: { show: { operation: ['claim'], fingerprintFrom: ['fields'] } },
	},
	{
		displayName: 'Lease (Seconds)',
		name: 'leaseSeconds',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 300,
		description:
			'How long a claim blocks the key while the work runs. Longer than the work takes: after it, a crashed run no longer blocks the key and a retry may take over.',
		displayOptions: claim,
	},

	// Complete and Release
	{
		displayName: 'Claim Token',
		name: 'claimId',
		type: 'string',
		default: '={{ $json.idempotency?.token }}',
		description:
			'Act only on the claim with this token, not on one another execution took over. Empty: any claim of the key.',
		displayOptions: completeOrRelease,
	},
	{
		displayName: 'Result From',
		name: 'resultFrom',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'The Item',
				value: 'item',
				description: 'The incoming item, without the idempotency field',
			},
			{
				name: 'Expression',
				value: 'expression',
				description: 'E.g. the response body.',
			},
		],
		default: 'item',
		description: 'What later duplicates get replayed',
		displayOptions: { show: { operation: ['complete'] } },
	},
	{
		displayName: 'Result',
		name: 'result',
		type: 'json',
		default: '={{ $json.response }}',
		description: 'Any JSON value; replayed to duplicates as it is',
		displayOptions: { show: { operation: ['complete'], resultFrom: ['expression'] } },
	},
	{
		displayName: 'Retention (Hours)',
		name: 'retentionHours',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 2 },
		default: 24,
		description:
			'How long the result is kept and replayed. Stripe keeps keys 24 hours; longer than your senders retry.',
		displayOptions: { show: { operation: ['complete'] } },
	},

	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Missing Key',
				name: 'onMissingKey',
				type: 'options',
				options: [
					{
						name: 'Stop With an Error',
						value: 'error',
						description: 'The error names the item; use the error output for a 400 response',
					},
					{
						name: 'Send to New With a Warning',
						value: 'new',
						description: 'Not deduplicated: the item carries idempotency.warning',
					},
				],
				default: 'error',
				displayOptions: { show: { '/operation': ['claim'] } },
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'idempotency',
				description:
					'The field of the item that gets the outcome (key, token, first seen, result …)',
			},
			{
				displayName: 'Store Unreachable',
				name: 'onStoreError',
				type: 'options',
				options: [
					{
						name: 'Fail Closed',
						value: 'failClosed',
						description: 'Stop with an error naming the store: no item passes unchecked',
					},
					{
						name: 'Fail Open',
						value: 'failOpen',
						description:
							'Let items through as New, flagged with idempotency.failOpen and the error (duplicates are possible)',
					},
				],
				default: 'failClosed',
			},
		],
	},
];
