// an empty CommonJS script: what a CommonJS entry (bin/kfunc.js) costs (bench/startup.ts)
