/**
 * Next.js configuration. The dashboard (app/) is served by the hub's HTTP server;
 * the trainer's native/wasm modules never enter the browser bundle.
 * @type {import('next').NextConfig}
 */
const nextConfig = {
  reactStrictMode: true,
  serverExternalPackages: [
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-backend-cpu',
    '@tensorflow/tfjs-backend-webgpu',
    '@tensorflow/tfjs-node-gpu',
    'webgpu',
  ],
  typescript: {
    // `next build` type-checks only the dashboard; app/tsconfig.json says why.
    // The whole repo is checked by `npm run typecheck` (tsc --noEmit).
    tsconfigPath: 'app/tsconfig.json',
  },
};

export default nextConfig;
