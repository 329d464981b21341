/**
 * Which module may import which (dependency-cruiser, run by `npm run check:deps` in `npm test`):
 * no import cycle in server/ or app/, type-only imports included (a type cycle ties two
 * modules together as surely as a runtime one: neither can move or split alone); the hub's layers import only those below them
 * (storage ← live ← cluster ← runs ← peers, docs/architecture.md); the trainer core knows nothing
 * of Socket.IO, Prisma or the hub; the dashboard imports from server/ only the protocol and
 * the shared formatting.
 */
const hubLayer = (name, above) => ({
  name: `hub-${name}-below-${above.join('-')}`,
  comment: `server/hub/${name}/ is a lower layer: it must not import ${above.map((a) => `server/hub/${a}/`).join(', ')} (pass a callback instead)`,
  severity: 'error',
  from: { path: `^server/hub/${name}/` },
  to: { path: `^server/hub/(${above.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment:
        'an import cycle, type-only imports included: move the shared type to a lower module, or break it with a callback',
      severity: 'error',
      from: { path: '^(server|app)/' },
      to: { circular: true },
    },
    hubLayer('storage', ['live', 'cluster', 'runs', 'peers']),
    hubLayer('live', ['cluster', 'runs', 'peers']),
    hubLayer('cluster', ['runs', 'peers']),
    hubLayer('runs', ['peers']),
    {
      name: 'trainer-core-transport-free',
      comment:
        'server/trainer/ runs without a hub: no Socket.IO, no Prisma, nothing of server/hub or server/db',
      severity: 'error',
      from: { path: '^server/trainer/' },
      to: {
        path: [
          '^server/(hub|db|agent)/',
          'node_modules/(socket\\.io|socket\\.io-client|@prisma|prisma)/',
        ],
      },
    },
    {
      name: 'dashboard-imports-only-the-protocol',
      comment:
        'app/ may import from server/ only the protocol, the series columns and the shared formatting',
      severity: 'error',
      from: { path: '^app/' },
      to: { path: '^server/', pathNot: ['^server/(protocol|columns)/', '^server/format\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^server/db/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'] },
  },
};
