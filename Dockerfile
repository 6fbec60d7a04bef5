# Olchat on the official Bun image. Dependencies come from the committed package-lock.json (npm ci),
# so the image gets exactly the versions CI tested.
# The Bun version matches the `bun` dependency in package.json (tests/deploy/container.test.ts checks it).
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no test tools in the image; --ignore-scripts: the runtime image brings its own Bun.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM oven/bun:1.4.5-debian
WORKDIR /app
ENV NODE_ENV=production PORT=8080 OLCHAT_DATA_DIR=/var/lib/olchat
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY actors ./actors
COPY storage ./storage
RUN mkdir -p /var/lib/olchat && chown bun:bun /var/lib/olchat
USER bun
VOLUME ["/var/lib/olchat"]
EXPOSE 8080
# With HTTPS_CERT_FILE the port speaks HTTPS only; the certificate names the public host, not 127.0.0.1.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD bun -e "fetch((process.env.HTTPS_CERT_FILE?'https':'http')+'://127.0.0.1:'+(process.env.PORT||8080)+'/readyz',{tls:{rejectUnauthorized:false}}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The same start command as `npm start`, without npm in the signal path: SIGTERM reaches Olchat directly.
CMD ["bun", "src/main.ts"]
