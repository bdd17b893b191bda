# lb.Dockerfile: the load balancer in front of the gateways, haproxy from
# Debian's package on the same Debian base as groupchat's own image, so
# the whole stack is built from Debian packages (docker-compose.yml's lb).
# The same image runs the one-shot tls service, which puts the
# certificate of haproxy's wss:// port in place (openssl, tls-init.sh).
# Its build context is deploy/.
#
#   docker build -f deploy/lb.Dockerfile -t groupchat-lb deploy

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy openssl \
 && rm -rf /var/lib/apt/lists/*
COPY haproxy.cfg /etc/haproxy/haproxy.cfg
#  The health check asks /healthz through the front end: the load balancer
#  is healthy when it hands clients to a gateway that reaches the broker
COPY healthz.sh /usr/local/bin/groupchat-healthz
COPY tls-init.sh /usr/local/bin/groupchat-tls-init
#  /etc/haproxy/tls is the store of the served certificate, haproxy's
#  alone: a new volume mounted there starts as a copy of it, owner and
#  mode included. The configuration is checked with a throwaway
#  certificate made by tls-init.sh elsewhere, so the store stays empty
RUN chmod 0755 /usr/local/bin/groupchat-healthz /usr/local/bin/groupchat-tls-init \
 && install -d -o haproxy -g haproxy -m 0700 /etc/haproxy/tls \
 && GROUPCHAT_TLS_STORE=/tmp/check GROUPCHAT_TLS_GIVEN=/nowhere \
        groupchat-tls-init >/dev/null \
 && sed 's|/etc/haproxy/tls/|/tmp/check/|' /etc/haproxy/haproxy.cfg >/tmp/check.cfg \
 && haproxy -c -q -f /tmp/check.cfg \
 && rm -rf /tmp/check /tmp/check.cfg
USER haproxy
EXPOSE 8080 8443
#  -W: master-worker, so that a reload (SIGUSR2) keeps serving;
#  -db: in the foreground, logging to stdout for `docker logs`
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
