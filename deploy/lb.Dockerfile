# lb.Dockerfile: the load balancer in front of the gateways, haproxy from
# Debian's package on the same Debian base as groupchat's own image, so
# the whole stack is built from Debian packages (docker-compose.yml's lb).
# Its build context is deploy/.
#
#   docker build -f deploy/lb.Dockerfile -t groupchat-lb deploy

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
 && rm -rf /var/lib/apt/lists/*
COPY haproxy.cfg /etc/haproxy/haproxy.cfg
#  The health check asks /healthz through the front end: the load balancer
#  is healthy when it hands clients to a gateway that reaches the broker
COPY healthz.sh /usr/local/bin/groupchat-healthz
RUN chmod 0755 /usr/local/bin/groupchat-healthz \
 && haproxy -c -q -f /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8080
#  -W: master-worker, so that a reload (SIGUSR2) keeps serving;
#  -db: in the foreground, logging to stdout for `docker logs`
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]
