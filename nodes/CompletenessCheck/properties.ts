import type { INodeProperties } from 'n8n-workflow';

const show = (...checks: string[]) => ({ show: { check: checks } });

const EXAMPLE_RULES = `[
  { "path": "customer.id", "check": "notEmpty" },
  { "path": "total", "check": "min", "value": 0 },
  { "path": "account.data", "check": "requiredIf", "ifPath": "account.id" },
  { "path": "text", "check": "sections", "sectionsIn": "headings", "sections": ["Summary", "Parties", "Terms", "Risks", "Signatures"] },
  { "path": "text", "check": "textQuality", "minChars": 200, "maxBadPercent": 5 },
  { "path": "language", "check": "oneOf", "value": ["en", "de"], "severity": "scored" }
]`;

/** The Completeness Check's parameters, as the editor shows them. */
export const properties: INodeProperties[] = [
	{
		displayName: 'Rules From',
		name: 'rulesSource',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Editor', value: 'editor', description: 'Add rules one by one' },
			{
				name: 'JSON',
				value: 'json',
				description: 'A JSON array of rules, e.g. shared between workflows',
			},
		],
		default: 'editor',
	},
	{
		displayName: 'Rules',
		name: 'rules',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Rule',
		default: {},
		displayOptions: { show: { rulesSource: ['editor'] } },
		options: [
			{
				displayName: 'Rule',
				name: 'rule',
				// A rule reads field → check → its value → severity; alphabetical order would scramble that.
				// eslint-disable-next-line n8n-nodes-base/node-param-fixed-collection-type-unsorted-items
				values: [
					{
						displayName: 'Field',
						name: 'path',
						type: 'string',
						default: '',
						placeholder: 'customer.address.city',
						description: 'Path in dot or bracket notation, e.g. items[0].price',
					},
					{
						displayName: 'Check',
						name: 'check',
						type: 'options',
						// Presence, type, limits, dates, then the structural checks; not alphabetical.
						// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items
						options: [
							{ name: 'Exists', value: 'exists', description: 'Present and not null' },
							{
								name: 'Not Empty',
								value: 'notEmpty',
								description: 'Present and not an empty text, list or object',
							},
							{
								name: 'Is Type',
								value: 'type',
								description: 'Text, number, boolean, list, object or date',
							},
							{
								name: 'Min Length',
								value: 'minLength',
								description: 'Text of at least this many characters',
							},
							{
								name: 'Max Length',
								value: 'maxLength',
								description: 'Text of at most this many characters',
							},
							{
								name: 'Min Value',
								value: 'min',
								description: 'A number (or numeric text) of at least this',
							},
							{
								name: 'Max Value',
								value: 'max',
								description: 'A number (or numeric text) of at most this',
							},
							{ name: 'Matches Regex', value: 'regex', description: 'Text that matches a pattern' },
							{
								name: 'One Of',
								value: 'oneOf',
								description: 'Text, a number or true/false among the allowed values',
							},
							{
								name: 'Date Parseable',
								value: 'date',
								description:
									'A date the Freshness Check reads: ISO, SQL, RFC 2822, HTTP or an epoch number',
							},
							{
								name: 'Min Items',
								value: 'minItems',
								description: 'A list of at least this many items',
							},
							{
								name: 'Max Items',
								value: 'maxItems',
								description: 'A list of at most this many items',
							},
							{
								name: 'Required If Other Field Present',
								value: 'requiredIf',
								description: 'E.g. the account is referenced, so its data must be there.',
							},
							{
								name: 'Expected Sections',
								value: 'sections',
								description: 'Named sections present, as keys or as headings in a text',
							},
							{
								name: 'Text Quality',
								value: 'textQuality',
								description: 'Enough characters and few broken ones (catches bad PDF extraction)',
							},
						],
						default: 'notEmpty',
					},
					{
						displayName: 'Type',
						name: 'value',
						type: 'options',
						// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items
						options: [
							{ name: 'Text (String)', value: 'string' },
							{ name: 'Number', value: 'number' },
							{ name: 'Boolean', value: 'boolean' },
							{ name: 'List (Array)', value: 'array' },
							{ name: 'Object', value: 'object' },
							{
								name: 'Date',
								value: 'date',
								description: 'A Date or date text (not a bare number)',
							},
						],
						default: 'string',
						displayOptions: show('type'),
					},
					{
						displayName: 'Value',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: '10',
						description: 'The limit: characters, a number or a count of items',
						displayOptions: show('minLength', 'maxLength', 'min', 'max', 'minItems', 'maxItems'),
					},
					{
						displayName: 'Regular Expression',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: '/^[A-Z]{2}\\d+$/i',
						description: 'A pattern, optionally as /pattern/flags',
						displayOptions: show('regex'),
					},
					{
						displayName: 'Allowed Values',
						name: 'value',
						type: 'string',
						default: '',
						placeholder: 'open, pending, closed',
						description: 'Separated by commas, or a JSON array',
						displayOptions: show('oneOf'),
					},
					{
						displayName: 'If This Field Is Present',
						name: 'ifPath',
						type: 'string',
						default: '',
						// a field path, not the word "ID"
						// eslint-disable-next-line n8n-nodes-base/node-param-placeholder-miscased-id
						placeholder: 'account.id',
						displayOptions: show('requiredIf'),
					},
					{
						displayName: 'Sections',
						name: 'sections',
						type: 'string',
						default: '',
						placeholder: 'Summary, Parties, Terms, Risks, Signatures',
						description: 'Names separated by commas or new lines, or a JSON array',
						displayOptions: show('sections'),
					},
					{
						displayName: 'Look for Sections As',
						name: 'sectionsIn',
						type: 'options',
						options: [
							{
								name: 'Keys of the Object',
								value: 'keys',
								description: 'The field is an object; each section is a key with a value',
							},
							{
								name: 'Headings in the Text',
								value: 'headings',
								description:
									'The field is text; a heading ("## 3. Terms and Conditions") names a section when it starts with its name as whole words.',
							},
						],
						default: 'keys',
						displayOptions: show('sections'),
					},
					{
						displayName: 'Min Characters',
						name: 'minChars',
						type: 'number',
						typeOptions: { minValue: 0 },
						default: 100,
						displayOptions: show('textQuality'),
					},
					{
						displayName: 'Max Bad Characters (%)',
						name: 'maxBadPercent',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 100 },
						default: 5,
						description:
							'Replacement characters (�) and control characters, as a share of all characters',
						displayOptions: show('textQuality'),
					},
					{
						displayName: 'Severity',
						name: 'severity',
						type: 'options',
						options: [
							{
								name: 'Critical',
								value: 'critical',
								description: 'The item is incomplete if this fails',
							},
							{ name: 'Scored', value: 'scored', description: 'Counts toward the minimum score' },
						],
						default: 'critical',
					},
					{
						displayName: 'Label',
						name: 'name',
						type: 'string',
						default: '',
						description: 'Name of the rule in the result; empty: the check and the field',
					},
				],
			},
		],
	},
	{
		displayName: 'Rules (JSON)',
		name: 'rulesJson',
		type: 'json',
		default: EXAMPLE_RULES,
		description:
			'Each rule: path, check (exists, notEmpty, type, minLength, maxLength, min, max, regex, oneOf, minItems, maxItems, date, requiredIf, sections, textQuality), value, ifPath, sections, sectionsIn, minChars, maxBadPercent, severity, name',
		displayOptions: { show: { rulesSource: ['json'] } },
	},
	{
		displayName: 'Minimum Score (%)',
		name: 'minScore',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 100 },
		default: 80,
		description:
			'Share of the scored rules that must pass ("mostly"). Critical rules must always pass.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'JSON Schema',
				name: 'jsonSchema',
				type: 'json',
				default: '{\n  "type": "object",\n  "required": []\n}',
				description:
					'The whole item must also match this JSON Schema: draft-07, 2019-09 or 2020-12 by its $schema, 2020-12 without one. Unknown keywords are an error. Failures are critical.',
			},
			{
				displayName: 'Put Result in Field',
				name: 'outputField',
				type: 'string',
				default: 'completeness',
				description: 'Name of the field that receives the result object',
			},
		],
	},
];
