// SPDX-License-Identifier: Apache-2.0
//
// cfn-lint (the npm package, from tools/node_modules) on every template
// given, one TAP test each: ok only with zero findings of any level.
//
// The linter's bundled resource specification predates a few things the
// templates use. Each such gap is listed below by name, never guessed: the
// resource or property is taken out of a copy of the template before the
// lint, a TAP comment names it, and everything else is still linted. A gap
// that the specification turns out to know fails the test, so the list
// cannot hide what the linter could check. A type or property missing from
// the specification and not listed here is a finding like any other.
//
//   node test/deploy/cfn-lint.js TEMPLATE...     (TOOLS_DIR: tools/)
'use strict';

const path = require('path');

const toolsDir = process.env.TOOLS_DIR || path.join(__dirname, '..', '..', 'tools');
const lintDir = path.join(toolsDir, 'node_modules', 'cfn-lint');
const lint = require(path.join(lintDir, 'lib', 'api'));
const parser = require(path.join(lintDir, 'lib', 'parser'));
const spec = require(path.join(lintDir, 'data', 'aws_resources_specification.json'));
const lintVersion = require(path.join(lintDir, 'package.json')).version;

// Resource types the specification lacks, with the values their Ref and
// attributes stand for in the linted copy.
const TYPE_GAPS = {
	'AWS::APS::Workspace': {
		Ref: 'arn:aws:aps:us-east-1:123456789012:workspace/ws-placeholder',
		Arn: 'arn:aws:aps:us-east-1:123456789012:workspace/ws-placeholder',
		WorkspaceId: 'ws-placeholder',
		PrometheusEndpoint: 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-placeholder/',
	},
};

// Properties the specification lacks: where they sit in a resource of the
// type ('*' for every list item), and the specification entry that lacks
// them (botocore's model checks the ECS ones: check-task-definitions.py).
const PROPERTY_GAPS = [
	{
		type: 'AWS::ServiceDiscovery::Service',
		path: ['Tags'],
		owner: 'AWS::ServiceDiscovery::Service',
	},
	{
		type: 'AWS::ECS::TaskDefinition',
		path: ['ContainerDefinitions', '*', 'DependsOn'],
		owner: 'AWS::ECS::TaskDefinition.ContainerDefinition',
	},
	{
		type: 'AWS::EC2::LaunchTemplate',
		path: ['LaunchTemplateData', 'MetadataOptions'],
		owner: 'AWS::EC2::LaunchTemplate.LaunchTemplateData',
	},
];

function specProperties(owner) {
	const entry = spec.ResourceTypes[owner] || spec.PropertyTypes[owner];
	return entry ? entry.Properties : null;
}

// Problems with the gap lists themselves: each must be a real gap.
function checkGapLists() {
	const problems = [];
	for (const type of Object.keys(TYPE_GAPS))
		if (spec.ResourceTypes[type])
			problems.push(`the specification now knows ${type}: drop it from TYPE_GAPS`);
	for (const gap of PROPERTY_GAPS) {
		const props = specProperties(gap.owner);
		const name = gap.path[gap.path.length - 1];
		if (!props)
			problems.push(`no specification entry ${gap.owner}`);
		else if (props[name])
			problems.push(`the specification now knows ${gap.owner}.${name}: drop it from PROPERTY_GAPS`);
	}
	return problems;
}

function isObject(v) {
	return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// Replaces references to a removed resource by the values it stands for.
function replaceReferences(node, name, values) {
	if (Array.isArray(node))
		return node.map((v) => replaceReferences(v, name, values));
	if (!isObject(node))
		return node;
	const keys = Object.keys(node);
	if (keys.length === 1 && keys[0] === 'Ref' && node.Ref === name)
		return values.Ref;
	if (keys.length === 1 && keys[0] === 'Fn::GetAtt' && node['Fn::GetAtt'][0] === name)
		return values[node['Fn::GetAtt'][1]];
	if (keys.length === 1 && keys[0] === 'Fn::Sub') {
		const sub = node['Fn::Sub'];
		const replace = (s) =>
			s.replace(new RegExp(`\\$\\{${name}(?:\\.(\\w+))?\\}`, 'g'),
				(m, attr) => values[attr || 'Ref']);
		if (typeof sub === 'string')
			return { 'Fn::Sub': replace(sub) };
		return { 'Fn::Sub': [replace(sub[0]), replaceReferences(sub[1], name, values)] };
	}
	const out = {};
	for (const k of keys)
		out[k] = replaceReferences(node[k], name, values);
	return out;
}

function dropDependsOn(resources, name) {
	for (const res of Object.values(resources)) {
		if (res.DependsOn === name)
			delete res.DependsOn;
		else if (Array.isArray(res.DependsOn))
			res.DependsOn = res.DependsOn.filter((d) => d !== name);
	}
}

function removeTypeGaps(template, notes) {
	for (const [name, res] of Object.entries(template.Resources)) {
		const values = TYPE_GAPS[res.Type];
		if (!values)
			continue;
		notes.push(`cfn-lint ${lintVersion}'s resource specification lacks ${res.Type}: ` +
			`resource ${name} is not linted, the rest is`);
		delete template.Resources[name];
		dropDependsOn(template.Resources, name);
		for (const section of ['Resources', 'Outputs', 'Conditions'])
			if (template[section])
				template[section] = replaceReferences(template[section], name, values);
	}
}

// Deletes the property at path below node; returns how many it deleted.
function stripPath(node, pathParts) {
	if (!node || typeof node !== 'object')
		return 0;
	const [head, ...rest] = pathParts;
	if (head === '*')
		return Array.isArray(node) ? node.reduce((n, v) => n + stripPath(v, rest), 0) : 0;
	if (rest.length === 0) {
		if (!(head in node))
			return 0;
		delete node[head];
		return 1;
	}
	return stripPath(node[head], rest);
}

function removePropertyGaps(template, notes) {
	for (const gap of PROPERTY_GAPS) {
		const name = gap.path[gap.path.length - 1];
		for (const [resName, res] of Object.entries(template.Resources)) {
			if (res.Type !== gap.type || !stripPath(res.Properties, gap.path))
				continue;
			notes.push(`cfn-lint ${lintVersion}'s resource specification lacks ` +
				`${gap.owner}.${name}: not linted in ${resName}, the rest is`);
		}
	}
}

function findings(result) {
	const out = [];
	for (const level of ['crit', 'warn', 'info'])
		for (const e of result.errors[level])
			out.push(`${level}: ${e.resource}: ${e.message}`);
	return out;
}

function lintTemplate(file, n) {
	const notes = [];
	let problems;
	try {
		const template = parser.openFile(file);
		removeTypeGaps(template, notes);
		removePropertyGaps(template, notes);
		lint.resetValidator && lint.resetValidator();
		const result = lint.validateJsonObject(template);
		problems = findings(result);
		if (!result.templateValid && problems.length === 0)
			problems.push('template invalid');
	} catch (e) {
		problems = [`cannot lint: ${e.message || e}`];
	}
	for (const note of notes)
		console.log(`# ${note}`);
	for (const p of problems)
		console.log(`#   ${p}`);
	console.log(`${problems.length ? 'not ok' : 'ok'} ${n} - cfn-lint ${path.basename(file)}`);
	return problems.length === 0;
}

function main(files) {
	let failed = 0;
	let n = 1;
	console.log(`1..${files.length + 1}`);
	const gapProblems = checkGapLists();
	for (const p of gapProblems)
		console.log(`#   ${p}`);
	console.log(`${gapProblems.length ? 'not ok' : 'ok'} ${n++} - every listed specification gap is real`);
	failed += gapProblems.length ? 1 : 0;
	for (const file of files)
		failed += lintTemplate(file, n++) ? 0 : 1;
	return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
