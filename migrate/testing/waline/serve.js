// Starts the Waline server application (the ThinkJS app of @waline/vercel, as its vanilla.js
// does) bound to 127.0.0.1: ThinkJS listens on every interface unless `host` is configured.
// Usage: node serve.js <port>   (ThinkJS reads the port from argv[2]; run with cwd = the
// folder whose node_modules holds @waline/vercel)
const path = require('node:path');

const root = path.join(process.cwd(), 'node_modules', '@waline', 'vercel');
const Application = require(require.resolve('thinkjs', { paths: [root] }));

const app = new Application({
  ROOT_PATH: root,
  APP_PATH: path.join(root, 'src'),
  proxy: true,
  env: 'production',
});
app.run();
// applied before the server starts listening (ThinkJS starts it after a promise)
think.config('host', '127.0.0.1');
think.config('workers', 1);
