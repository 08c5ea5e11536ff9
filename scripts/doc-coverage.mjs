// Every public export of each entry point (`duta`, `duta/testing`, `duta/otel`, `duta/clients`, `duta/redis`) has a doc comment: the API reference
// (`npm run docs`, typedoc) is generated from them. Run by `npm test` through the TypeScript compiler API,
// which reads the entry points in a few seconds where a typedoc run takes several more.
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = {
  duta: 'src/index.ts',
  'duta/testing': 'src/testing/index.ts',
  'duta/otel': 'src/otel/index.ts',
  'duta/clients': 'src/clients/index.ts',
  'duta/redis': 'src/redis/index.ts',
};

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
if (config === undefined) {
  throw new Error('tsconfig.json could not be read');
}
const program = ts.createProgram(Object.values(entries).map((file) => join(root, file)), { ...config.options, noEmit: true });
const checker = program.getTypeChecker();

/** True when a declaration carries a `/** … *\/` comment with some text or tags. */
const documented = (declaration) => {
  // A variable's comment sits on its statement, two levels up from the declaration.
  const node = ts.isVariableDeclaration(declaration) ? declaration.parent.parent : declaration;
  return ts.getJSDocCommentsAndTags(node).length > 0;
};

const missing = [];
let count = 0;
for (const [entry, file] of Object.entries(entries)) {
  const source = program.getSourceFile(join(root, file));
  const module = source && checker.getSymbolAtLocation(source);
  if (module === undefined) {
    throw new Error(`${file} could not be read`);
  }
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declarations = symbol.declarations ?? [];
    count++;
    if (!declarations.some(documented)) {
      const where = declarations[0];
      const at = where === undefined ? file : `${relative(root, where.getSourceFile().fileName)}:${where.getSourceFile().getLineAndCharacterOfPosition(where.getStart()).line + 1}`;
      missing.push(`  ${entry}: ${exported.name} (${at})`);
    }
  }
}

if (missing.length > 0) {
  console.error(`docs: ${missing.length} of ${count} public exports have no doc comment:\n${missing.join('\n')}`);
  process.exit(1);
}
console.log(`docs: all ${count} public exports have a doc comment`);
