// Lists the exports under src/ that no other file uses (tests, bench and scripts count as users), with whether the
// declaring file still uses the symbol itself (then it only needs its `export` dropped):
//   node --import tsx scripts/dead-exports.ts [folder…]
// Uses TypeScript's own reference finder, so re-exports, type-only imports and dynamic imports are followed.
import ts from 'typescript';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const folders = process.argv.slice(2).map((f) => join(root, f));
const cfg = ts.getParsedCommandLineOfConfigFile(
  join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(String(d.messageText));
    },
  },
)!;
const host: ts.LanguageServiceHost = {
  getCompilationSettings: () => cfg.options,
  getScriptFileNames: () => cfg.fileNames,
  getScriptVersion: () => '1',
  getScriptSnapshot: (f) => (ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(f)!) : undefined),
  getCurrentDirectory: () => root,
  getDefaultLibFileName: ts.getDefaultLibFilePath,
  fileExists: ts.sys.fileExists,
  readFile: ts.sys.readFile,
};
const ls = ts.createLanguageService(host);
const program = ls.getProgram()!;
const checker = program.getTypeChecker();

/** The innermost node at `pos`. */
function nodeAt(sf: ts.SourceFile, pos: number): ts.Node {
  let n: ts.Node = sf;
  for (;;) {
    const inner = n.getChildren(sf).find((c) => c.getStart(sf) <= pos && pos < c.getEnd());
    if (!inner) return n;
    n = inner;
  }
}

/** An import or re-export specifier is no use by itself: a use is where the name is then read. */
function isOnlyNaming(sf: ts.SourceFile, pos: number): boolean {
  return !!ts.findAncestor(nodeAt(sf, pos), (n) => ts.isImportSpecifier(n) || ts.isExportSpecifier(n) || ts.isImportClause(n));
}

/** Whether the reference `r` reaches its symbol through an import of `module` (followed by the uses of that import). */
function importsFrom(r: ts.ReferenceEntry, module: string): boolean {
  const rsf = program.getSourceFile(r.fileName);
  if (!rsf || r.fileName === module) return false;
  return rsf.statements.some(
    (st) =>
      ts.isImportDeclaration(st) &&
      ts.isStringLiteral(st.moduleSpecifier) &&
      resolve(dirname(r.fileName), st.moduleSpecifier.text).replace(/\.js$/, '.ts') === module &&
      st.importClause?.namedBindings &&
      ts.isNamedImports(st.importClause.namedBindings) &&
      st.importClause.namedBindings.elements.some((e) => e.name.text === rsf.text.slice(r.textSpan.start, r.textSpan.start + r.textSpan.length)),
  );
}

// Library surfaces documented for programs (docs/diagnose.md): what they export, and what they re-export, is meant for
// callers outside this repository too.
const PUBLIC = ['src/diagnose/doctor/index.ts', 'src/diagnose/trace/index.ts'].map((f) => join(root, f));
const published = new Set<ts.Declaration>();
for (const f of PUBLIC) {
  const mod = checker.getSymbolAtLocation(program.getSourceFile(f)!)!;
  for (const sym of checker.getExportsOfModule(mod)) {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    for (const d of [...(sym.declarations ?? []), ...(target.declarations ?? [])]) published.add(d);
  }
}

const out: string[] = [];
for (const sf of program.getSourceFiles()) {
  const f = sf.fileName;
  if (!f.startsWith(join(root, 'src/')) || f.endsWith('.test.ts')) continue;
  if (folders.length && !folders.some((d) => f.startsWith(d + '/'))) continue;
  const mod = checker.getSymbolAtLocation(sf);
  if (!mod) continue;
  for (const sym of checker.getExportsOfModule(mod)) {
    const decl = sym.declarations?.[0];
    if (!decl || decl.getSourceFile() !== sf || published.has(decl)) continue;
    // A re-export (`export { x } from`): its references are the original's, so only those through this module count.
    const reExport = ts.isExportSpecifier(decl);
    const name = reExport ? decl.name : ((decl as ts.NamedDeclaration).name ?? decl);
    const refs = (ls.findReferences(f, name.getStart()) ?? []).flatMap((r) => r.references).filter((r) => !reExport || importsFrom(r, f));
    let outside = 0;
    let inside = 0;
    for (const r of refs) {
      if (r.isDefinition) continue;
      if (r.fileName === f) {
        inside++;
        continue;
      }
      const rsf = program.getSourceFile(r.fileName);
      if (rsf && !isOnlyNaming(rsf, r.textSpan.start)) outside++;
    }
    const verdict = reExport ? 're-export nobody uses: remove' : inside > 0 ? 'used in its own file: un-export' : 'unused: remove';
    if (outside === 0) out.push(`${relative(root, f)}:${sf.getLineAndCharacterOfPosition(decl.getStart()).line + 1}  ${sym.name}  ${verdict}`);
  }
}
process.stdout.write(out.sort().join('\n') + (out.length ? '\n' : ''));
