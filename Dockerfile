# Dockerfile: one image holding groupchat-broker, groupchat-gateway, the
# groupchat client and groupchat-admin; docker-compose.yml picks the
# program per service.
#
# The build stage builds exactly as a developer does on Debian 12:
# scripts/deps.sh installs the build dependencies, then plain `make`. The
# runtime stage gets only the shared libraries, from the same script, and
# runs as the unprivileged user "groupchat" with its data in /data.
#
#   docker build -t groupchat .
#   docker run --rm -v groupchat-data:/data groupchat groupchat-broker

FROM debian:bookworm AS build
WORKDIR /src
#  The dependencies first, so that editing the code reuses this layer
COPY scripts/deps.sh scripts/deps.sh
RUN sh scripts/deps.sh build
COPY . .
RUN make -j"$(nproc)"

FROM debian:bookworm-slim
COPY scripts/deps.sh /tmp/deps.sh
RUN sh /tmp/deps.sh runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/deps.sh
#  A fixed uid, so that a bind-mounted /data can be prepared on the host
RUN groupadd --gid 10001 groupchat \
 && useradd --uid 10001 --gid groupchat --no-create-home --home-dir /data \
            --shell /usr/sbin/nologin groupchat \
 && mkdir -p /data && chown groupchat:groupchat /data && chmod 0750 /data \
 && mkdir -p /keys/broker /keys/gateway /keys/admin \
 && chown groupchat:groupchat /keys/broker /keys/gateway /keys/admin \
 && chmod 0700 /keys/broker /keys/gateway /keys/admin
COPY --from=build /src/bin/groupchat-broker /src/bin/groupchat-gateway \
                  /src/bin/groupchat /src/bin/groupchat-admin \
                  /src/bin/groupchat-bench /usr/local/bin/
COPY deploy/healthz.sh /usr/local/bin/groupchat-healthz
RUN chmod 0755 /usr/local/bin/groupchat-healthz

#  The broker link's key folders go to /keys/broker, /keys/gateway and
#  /keys/admin, a volume each (docker-compose.yml): a new named volume
#  starts as a copy of its folder here, owned by groupchat and closed to
#  others.
#  The broker's database goes to /data: mount a volume there (a new named
#  volume starts as a copy of this folder, owner included). There is no
#  VOLUME line: gateways and the client share the image and keep nothing,
#  so they would each leave an anonymous volume behind.
ENV GROUPCHAT_DB=/data/groupchat.db
WORKDIR /data
USER groupchat
#  8080: gateway WebSocket and /healthz; 5555, 5556: the broker's request
#  and event sockets, for gateways and admin tools with trusted keys
EXPOSE 8080 5555 5556
#  No CMD: the program is chosen by whoever runs the image, e.g.
#  `groupchat-broker`, `groupchat-gateway` or `groupchat ws://HOST:8080`
