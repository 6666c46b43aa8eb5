/**
 * Completeness and quality rules for extracted data: Great Expectations / Soda style checks,
 * each critical (must pass) or scored (a minimum score in percent decides, "mostly").
 */
import { describeValue } from './values';
import type { ErrorObject } from 'ajv';

import { preview, readDate } from './dates';
import { compileJsonSchema } from './jsonSchema';
import { getPath, parsePath, PathError, type PathSegment } from './path';

export const CHECKS = [
	'exists',
	'notEmpty',
	'type',
	'minLength',
	'maxLength',
	'min',
	'max',
	'regex',
	'oneOf',
	'minItems',
	'maxItems',
	'date',
	'requiredIf',
	'sections',
	'textQuality',
] as const;
export type Check = (typeof CHECKS)[number];

export const VALUE_TYPES = ['string', 'number', 'boolean', 'array', 'object', 'date'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

export type Severity = 'critical' | 'scored';

/** A rule as entered in the editor or as JSON. */
export interface RuleInput {
	path: string;
	check: string;
	/** type name, number, regex (`abc` or `/abc/i`), list (JSON array or comma-separated) */
	value?: unknown;
	/** requiredIf: when this path has a value, `path` must have one too */
	ifPath?: string;
	/** sections: names, as a JSON array or separated by commas or new lines */
	sections?: unknown;
	/** sections: look for keys of the object at `path`, or headings in the text at `path` */
	sectionsIn?: 'keys' | 'headings';
	/** textQuality: at least this many characters */
	minChars?: number;
	/** textQuality: at most this percentage of replacement and control characters */
	maxBadPercent?: number;
	severity?: Severity;
	/** label in results; default "<check> <path>" */
	name?: string;
}

export interface Failure {
	rule: string;
	path: string;
	reason: string;
	severity: Severity;
}

export interface CompletenessResult {
	complete: boolean;
	score: number;
	passed: string[];
	failed: Failure[];
}

interface CompiledRule {
	name: string;
	path: string;
	severity: Severity;
	/** undefined when the rule passes, else the reason */
	test(item: unknown): string | undefined;
}

export class RuleError extends Error {}

/** `parameter` names where the rules came from in messages (e.g. "Rules (JSON)"). */
export function compileRules(inputs: unknown, parameter?: string): CompiledRule[] {
	if (!Array.isArray(inputs))
		throw new RuleError('"Rules (JSON)" must be a list (a JSON array of rule objects)');
	return inputs.map((input, index) => compileRule(input, index, parameter));
}

function compileRule(input: unknown, index: number, parameter?: string): CompiledRule {
	const r = (input ?? {}) as RuleInput;
	// rules may come from an item (an expression): only their text is shown, never String(object)
	const textOf = (v: unknown) => (typeof v === 'string' ? v : '');
	const shown = textOf(r.name) || `${textOf(r.check)} ${textOf(r.path)}`.trim();
	const label = `${parameter ? `"${parameter}": rule` : 'Rule'} ${index + 1}${shown ? ` ("${shown}")` : ''}`;
	const fail = (message: string): never => {
		throw new RuleError(`${label}: ${message}`);
	};
	if (typeof input !== 'object' || input === null || Array.isArray(input))
		fail('must be an object with "path" and "check"');
	if (!CHECKS.includes(r.check as Check))
		fail(`unknown check ${describeValue(r.check)} (known: ${CHECKS.join(', ')})`);
	const check = r.check as Check;
	if (typeof r.path !== 'string' || !r.path.trim()) fail('"path" is empty');
	const segments = pathOf(r.path, fail);
	const severity: Severity = r.severity ?? 'critical';
	if (severity !== 'critical' && severity !== 'scored')
		fail(`severity must be "critical" or "scored", not "${String(severity)}"`);
	const name = r.name || `${check} ${r.path}`;
	const read = (item: unknown) => getPath(item, segments);
	const rule = (test: CompiledRule['test']): CompiledRule => ({
		name,
		path: r.path,
		severity,
		test,
	});

	switch (check) {
		case 'exists':
			return rule((item) => (present(read(item)) ? undefined : 'is missing'));
		case 'notEmpty':
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				return isEmpty(v.value) ? 'is empty' : undefined;
			});
		case 'type': {
			const type = r.value as ValueType;
			if (!VALUE_TYPES.includes(type))
				fail(`type must be one of ${VALUE_TYPES.join(', ')}, not ${describeValue(r.value)}`);
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				const actual = typeOf(v.value);
				if (actual === type) return undefined;
				if (type === 'date' && typeof v.value === 'string' && isDate(v.value)) return undefined;
				return `is ${actual}, expected ${type}`;
			});
		}
		case 'minLength':
		case 'maxLength': {
			const limit = numberValue(r.value, fail);
			const min = check === 'minLength';
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				if (typeof v.value !== 'string') return `is ${typeOf(v.value)}, expected text`;
				const n = codePoints(v.value);
				if (min ? n < limit : n > limit)
					return `has ${n} characters, ${min ? 'min' : 'max'} ${limit}`;
				return undefined;
			});
		}
		case 'min':
		case 'max': {
			const limit = numberValue(r.value, fail);
			const min = check === 'min';
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				const n = toNumber(v.value);
				if (n === undefined) return `is not a number`;
				if (min ? n < limit : n > limit) return `is ${n}, ${min ? 'min' : 'max'} ${limit}`;
				return undefined;
			});
		}
		case 'regex': {
			const re = regexValue(r.value, fail);
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				if (typeof v.value !== 'string' && typeof v.value !== 'number')
					return `is ${typeOf(v.value)}, expected text`;
				re.lastIndex = 0;
				return re.test(String(v.value)) ? undefined : `does not match ${re}`;
			});
		}
		case 'oneOf': {
			const allowed = listValue(r.value, 'value', fail);
			if (!allowed.length) fail('"value" needs at least one allowed value');
			const keys = allowed.map((a) => {
				const key = primitiveKey(a);
				return key ?? fail(`"value": ${preview(a)} is not text, a number or true/false`);
			});
			const set = new Set(keys);
			const list = keys.join(', ');
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				// Only text, numbers and booleans can match: a list or an object is never "one of" them.
				const key = primitiveKey(v.value);
				if (key === undefined) return `is ${preview(v.value)}, not one of ${list}`;
				return set.has(key) ? undefined : `is ${preview(v.value)}, not one of ${list}`;
			});
		}
		case 'minItems':
		case 'maxItems': {
			const limit = numberValue(r.value, fail);
			const min = check === 'minItems';
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				if (!Array.isArray(v.value)) return `is ${typeOf(v.value)}, expected a list`;
				const n = v.value.length;
				if (min ? n < limit : n > limit) return `has ${n} items, ${min ? 'min' : 'max'} ${limit}`;
				return undefined;
			});
		}
		case 'date':
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				const date = readDate(v.value, { format: 'auto', defaultZone: 'UTC' });
				return date.ok ? undefined : date.why;
			});
		case 'requiredIf': {
			if (typeof r.ifPath !== 'string' || !r.ifPath.trim())
				fail('"if path" is empty: name the field whose presence makes this one required');
			const condition = pathOf(r.ifPath!, fail);
			return rule((item) => {
				const ref = getPath(item, condition);
				if (!present(ref) || isEmpty(ref.value)) return undefined; // not referenced: nothing required
				const v = read(item);
				if (!present(v)) return `is missing although ${r.ifPath} is present`;
				return isEmpty(v.value) ? `is empty although ${r.ifPath} is present` : undefined;
			});
		}
		case 'sections': {
			const expected = listValue(r.sections ?? r.value, 'sections', fail).map(String);
			if (!expected.length) fail('"sections" names no section');
			const inHeadings = r.sectionsIn === 'headings';
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				let found: Set<string>;
				if (inHeadings) {
					if (typeof v.value !== 'string')
						return `is ${typeOf(v.value)}, expected text with headings`;
					found = headings(v.value);
				} else {
					if (typeOf(v.value) !== 'object')
						return `is ${typeOf(v.value)}, expected an object with sections as keys`;
					const obj = v.value as Record<string, unknown>;
					found = new Set(
						Object.keys(obj)
							.filter((k) => !isEmpty(obj[k]))
							.map(normalise),
					);
				}
				const missing = expected.filter((s) => {
					const name = normalise(s);
					if (found.has(name)) return false;
					// A heading names a section when it starts with the name as whole words:
					// "Terms and Conditions" is the section "Terms", "Termsheet" is not.
					return !(inHeadings && [...found].some((h) => startsWithWords(h, name)));
				});
				return missing.length
					? `misses ${missing.length} of ${expected.length} sections: ${missing.join(', ')}`
					: undefined;
			});
		}
		case 'textQuality': {
			const minChars = r.minChars ?? 0;
			const maxBad = r.maxBadPercent ?? 5;
			if (!(minChars >= 0)) fail('"min characters" must be 0 or more');
			if (!(maxBad >= 0 && maxBad <= 100)) fail('"max bad characters %" must be between 0 and 100');
			return rule((item) => {
				const v = read(item);
				if (!present(v)) return 'is missing';
				if (typeof v.value !== 'string') return `is ${typeOf(v.value)}, expected text`;
				const { chars, bad } = textStats(v.value);
				if (chars < minChars) return `has ${chars} characters, min ${minChars}`;
				const share = chars ? (bad / chars) * 100 : 0;
				if (share > maxBad) {
					return `has ${share.toFixed(1)}% replacement or control characters, max ${maxBad}%`;
				}
				return undefined;
			});
		}
	}
}

function codePoints(text: string): number {
	let n = 0;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
			const d = text.charCodeAt(i + 1);
			if (d >= 0xdc00 && d < 0xe000) i++;
		}
		n++;
	}
	return n;
}

function pathOf(path: string, fail: (m: string) => never): PathSegment[] {
	try {
		return parsePath(path.trim());
	} catch (error) {
		if (error instanceof PathError) return fail(error.message);
		throw error;
	}
}

function present(v: { found: boolean; value: unknown }): boolean {
	return v.found && v.value !== undefined && v.value !== null;
}

function isEmpty(value: unknown): boolean {
	if (value === undefined || value === null) return true;
	if (typeof value === 'string') return value.trim() === '';
	if (Array.isArray(value)) return value.length === 0;
	if (value instanceof Date) return false;
	if (typeof value === 'object') return Object.keys(value).length === 0;
	return false;
}

function typeOf(value: unknown): string {
	if (value === null) return 'null';
	if (Array.isArray(value)) return 'array';
	if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'invalid date' : 'date';
	if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
	return typeof value;
}

/** "Is Type: date" takes date text only; a bare number is a number (Date Parseable also reads epochs). */
function isDate(text: string): boolean {
	if (/^\s*[-+]?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(text)) return false;
	return readDate(text, { format: 'auto', defaultZone: 'UTC' }).ok;
}

/** The text a value compares as for One Of; undefined for anything but text, finite numbers and booleans. */
function primitiveKey(value: unknown): string | undefined {
	if (typeof value === 'string') return value;
	if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
	if (typeof value === 'boolean') return String(value);
	return undefined;
}

function toNumber(value: unknown): number | undefined {
	if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
	if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
	return undefined;
}

function numberValue(value: unknown, fail: (m: string) => never): number {
	const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
	if (typeof n !== 'number' || !Number.isFinite(n))
		return fail(`"value" must be a number, not ${JSON.stringify(value)}`);
	return n;
}

function regexValue(value: unknown, fail: (m: string) => never): RegExp {
	if (typeof value !== 'string' || !value) return fail('"value" must be a regular expression');
	const m = /^\/(.*)\/([a-z]*)$/s.exec(value);
	try {
		return m ? new RegExp(m[1], m[2]) : new RegExp(value);
	} catch (error) {
		return fail(`"value" is not a valid regular expression: ${(error as Error).message}`);
	}
}

function listValue(value: unknown, field: string, fail: (m: string) => never): unknown[] {
	if (Array.isArray(value)) return value;
	if (typeof value !== 'string') return fail(`"${field}" must be a list`);
	const text = value.trim();
	if (text.startsWith('[')) {
		try {
			const parsed: unknown = JSON.parse(text);
			if (Array.isArray(parsed)) return parsed;
		} catch {
			// falls through to the error below
		}
		return fail(`"${field}" looks like JSON but is not a valid array`);
	}
	return text
		.split(/[,\n]/)
		.map((s) => s.trim())
		.filter(Boolean);
}

function startsWithWords(heading: string, name: string): boolean {
	return heading.startsWith(name) && !/^[\p{L}\p{N}]/u.test(heading.slice(name.length));
}

function normalise(name: string): string {
	return name.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** Lines that read as headings: Markdown `#`, numbered ("2.", "2.1", "II."), with or without a trailing colon. */
function headings(text: string): Set<string> {
	const found = new Set<string>();
	for (const line of text.split(/\r?\n/)) {
		const t = line
			.trim()
			.replace(/^#{1,6}\s+/, '')
			.replace(/^\*\*(.+)\*\*$/, '$1')
			.replace(/^(\d+(\.\d+)*|[IVXLC]+)[.)]?\s+/, '')
			.replace(/:$/, '')
			.trim();
		if (t && t.length <= 120) found.add(normalise(t));
	}
	return found;
}

/** Characters, and those that mark broken extraction: U+FFFD and control characters other than whitespace. */
function textStats(text: string): { chars: number; bad: number } {
	let chars = 0;
	let bad = 0;
	for (const ch of text) {
		chars++;
		const c = ch.codePointAt(0)!;
		if (c === 0xfffd || (c < 32 && c !== 9 && c !== 10 && c !== 13) || (c >= 0x7f && c < 0xa0))
			bad++;
	}
	return { chars, bad };
}

export type SchemaCheck = (value: unknown) => ErrorObject[] | undefined;

/** The JSON Schema option: draft by `$schema` (2020-12 without), strict, see lib/jsonSchema.ts. */
export function compileSchema(schema: unknown): SchemaCheck {
	try {
		return compileJsonSchema(schema, 'JSON Schema');
	} catch (error) {
		throw new RuleError((error as Error).message);
	}
}

/** At most this many schema violations per item are listed, then one line counts the rest. */
const MAX_SCHEMA_FAILURES = 50;

function schemaFailure(e: ErrorObject): Failure {
	const path = e.instancePath
		.split('/')
		.slice(1)
		.map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
		.join('.');
	const p = e.params as {
		missingProperty?: string;
		property?: string;
		additionalProperty?: string;
		unevaluatedProperty?: string;
	};
	const child = p.missingProperty ?? p.additionalProperty ?? p.unevaluatedProperty;
	let reason = e.message ?? 'does not match the schema';
	if (p.missingProperty)
		reason =
			e.keyword === 'required' ? 'is missing' : `is missing although ${p.property} is present`;
	else if (child) reason = 'is not allowed here';
	return {
		rule: 'JSON Schema',
		path: child ? (path ? `${path}.${child}` : child) : path,
		reason,
		severity: 'critical',
	};
}

/** Applies the rules (and the schema) to one item. `minScore` is a percentage of the scored rules. */
export function evaluate(
	item: unknown,
	rules: CompiledRule[],
	minScore: number,
	schema?: SchemaCheck,
): CompletenessResult {
	const passed: string[] = [];
	const failed: Failure[] = [];
	let scoredTotal = 0;
	let scoredPassed = 0;
	for (const rule of rules) {
		let reason: string | undefined;
		try {
			reason = rule.test(item);
		} catch (error) {
			// Last line of defence: an item value never stops the execution.
			reason = `could not be checked: ${error instanceof Error ? error.name : 'an error was thrown'}`;
		}
		if (rule.severity === 'scored') scoredTotal++;
		if (reason === undefined) {
			passed.push(rule.name);
			if (rule.severity === 'scored') scoredPassed++;
		} else {
			failed.push({
				rule: rule.name,
				path: rule.path,
				reason: `${rule.path} ${reason}`,
				severity: rule.severity,
			});
		}
	}
	const errors = schema?.(item);
	if (errors) {
		failed.push(...errors.slice(0, MAX_SCHEMA_FAILURES).map(schemaFailure));
		if (errors.length > MAX_SCHEMA_FAILURES)
			failed.push({
				rule: 'JSON Schema',
				path: '',
				reason: `and ${errors.length - MAX_SCHEMA_FAILURES} more violations`,
				severity: 'critical',
			});
	} else if (schema) passed.push('JSON Schema');
	const score = scoredTotal ? Math.round((scoredPassed / scoredTotal) * 1000) / 10 : 100;
	const complete = !failed.some((f) => f.severity === 'critical') && score >= minScore;
	return { complete, score, passed, failed };
}
