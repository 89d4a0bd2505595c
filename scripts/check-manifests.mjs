// Checks every package.json of the workspace against the code it owns (a step of `npm test`):
// - every package a file imports is declared by the package that owns the file (npm's hoisting lets an
//   undeclared import work here and fail in an image built from one package's manifest);
// - a package imported by run-time code (a workspace's src/, tests aside) is in its `dependencies`, not in
//   the root's devDependencies (`npm ci --omit=dev` drops those);
// - nothing declared goes unused: an import, a binary run by a script, a pino transport named by string,
//   or the types of something imported (`@types/x`) counts as a use.
// Prints each problem and exits 1 when there is one. `node scripts/check-manifests.mjs [root]`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, sep } from 'node:path';

const root = process.argv[2] ?? join(import.meta.dirname, '..');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const rootManifest = readJson(join(root, 'package.json'));
const workspaces = (rootManifest.workspaces ?? []).map((dir) => ({
  dir,
  manifest: readJson(join(root, dir, 'package.json')),
}));
const workspaceNames = new Set(workspaces.map((w) => w.manifest.name));

const SKIP_DIRS = new Set(['node_modules', 'dist', 'coverage', 'test-artifacts', '.data', '.bench', '.git']);
const CODE = /\.(?:[cm]?[jt]sx?)$/;

function filesUnder(dir, exclude = new Set()) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name) || name.startsWith('.') || exclude.has(name)) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else if (CODE.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The package a specifier names: `@scope/name` or `name`, subpaths dropped; undefined for relative, builtins. */
function packageOf(spec) {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('virtual:'))
    return undefined;
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  return builtinModules.includes(name) ? undefined : name;
}

/** Packages a file loads: static and dynamic imports, re-exports, require, and pino transports by name. */
function importsOf(text) {
  const specs = new Set();
  const patterns = [
    /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gms,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire(?:\.resolve)?\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  // a pino transport is loaded by name, in a worker thread
  if (/\btransport\b/.test(text)) patterns.push(/\btarget:\s*['"]([^'"./][^'"]*)['"]/g);
  for (const re of patterns) for (const m of text.matchAll(re)) specs.add(m[1]);
  return [...specs]
    .filter((s) => !s.includes('${'))
    .map(packageOf)
    .filter(Boolean);
}

/** Binaries each installed package provides, to tell which devDependency a script runs. */
function binsOf(pkg) {
  try {
    const m = readJson(join(root, 'node_modules', pkg, 'package.json'));
    if (typeof m.bin === 'string') return [m.name.split('/').pop()];
    return Object.keys(m.bin ?? {});
  } catch {
    return [];
  }
}

const isRuntimeFile = (file) => {
  const r = relative(root, file).split(sep);
  return (
    r[1] === 'src' && !/\.(test|property\.test|suite)\.[cm]?[jt]sx?$/.test(file) && !r.includes('testing')
  );
};

const problems = [];
const rootDev = rootManifest.devDependencies ?? {};
const usedFromRoot = new Set();
// Text where binaries are run: package.json scripts, the scripts folder, Dockerfiles, tests that spawn tools.
let commandText = JSON.stringify(rootManifest.scripts ?? {});

for (const { dir, manifest } of workspaces) {
  const deps = manifest.dependencies ?? {};
  const dev = manifest.devDependencies ?? {};
  const used = new Set();
  commandText += JSON.stringify(manifest.scripts ?? {});
  for (const file of filesUnder(join(root, dir))) {
    const runtime = isRuntimeFile(file);
    for (const pkg of importsOf(readFileSync(file, 'utf8'))) {
      if (pkg === manifest.name) continue;
      used.add(pkg);
      const where = relative(root, file);
      if (pkg in deps) continue;
      if (runtime) {
        problems.push(
          pkg in dev || pkg in rootDev
            ? `${where}: imports ${pkg} at run time, but ${dir}/package.json has it only as a dev dependency`
            : `${where}: imports ${pkg}, not declared in ${dir}/package.json`,
        );
      } else if (pkg in dev) {
        // a test or bench of this package, on its own dev dependency
      } else if (pkg in rootDev) usedFromRoot.add(pkg);
      else
        problems.push(
          `${where}: imports ${pkg}, declared neither in ${dir}/package.json nor in the root's devDependencies`,
        );
    }
  }
  for (const pkg of [...Object.keys(deps), ...Object.keys(dev)]) {
    if (used.has(pkg)) continue;
    if (pkg.startsWith('@types/') && used.has(pkg.slice(7).replace('__', '/'))) continue;
    problems.push(`${dir}/package.json: declares ${pkg}, which nothing in ${dir}/ imports`);
  }
}

// The root package owns test/, scripts/ and the config files at the top.
const rootFiles = filesUnder(root, new Set(rootManifest.workspaces ?? []));
for (const file of rootFiles) {
  const text = readFileSync(file, 'utf8');
  if (file.includes(`${sep}scripts${sep}`) || file.includes(`${sep}test${sep}`)) commandText += text;
  for (const pkg of importsOf(text)) {
    if (workspaceNames.has(pkg)) continue;
    usedFromRoot.add(pkg);
    if (!(pkg in rootDev) && !(pkg in (rootManifest.dependencies ?? {})))
      problems.push(`${relative(root, file)}: imports ${pkg}, not declared in the root package.json`);
  }
}
for (const name of readdirSync(join(root, 'deploy'), { withFileTypes: true }))
  if (name.isFile() && name.name.endsWith('Dockerfile'))
    commandText += readFileSync(join(root, 'deploy', name.name), 'utf8');

for (const pkg of Object.keys(rootDev)) {
  if (usedFromRoot.has(pkg)) continue;
  if (pkg === '@types/node') continue; // the types of node: imports, everywhere
  if (pkg.startsWith('@types/')) {
    const typed = pkg.slice(7).replace('__', '/');
    if (usedFromRoot.has(typed) || workspaces.some((w) => typed in (w.manifest.dependencies ?? {}))) continue;
  }
  const bins = binsOf(pkg);
  if (
    bins.some((b) =>
      new RegExp(`(^|[^\\w-])${b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^\\w-]|$)`).test(commandText),
    )
  )
    continue;
  problems.push(`package.json: declares ${pkg} in devDependencies, which nothing imports or runs`);
}

if (problems.length) {
  for (const p of problems.sort()) process.stderr.write(`${p}\n`);
  process.stderr.write(`manifests: ${problems.length} problem(s)\n`);
  process.exit(1);
}
process.stdout.write(`manifests: ${workspaces.length + 1} package.json files agree with their imports\n`);
