# patrol's image: the built CLI with production dependencies. `patrol web` or `patrol worker` is the command.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json app.yml ./
COPY migrations migrations
USER node
CMD ["node", "dist/src/cli/main.js", "web"]
