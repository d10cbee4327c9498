// an empty ES module: what starting Node's ESM loader costs (bench/startup.ts)
