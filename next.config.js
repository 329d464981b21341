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
};

export default nextConfig;
