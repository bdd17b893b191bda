# postgres.Dockerfile: the PostgreSQL 15 server of docker-compose.ha.yml,
# Debian 12's own postgresql-15 package on the same Debian base as the
# other images, so the stack is still built from Debian packages only.
# The same image runs the one-shot db-keys service, which makes the
# password and the TLS pair the server and the brokers meet with
# (postgres-keys.sh). Its build context is deploy/.
#
#   docker build -f deploy/postgres.Dockerfile -t groupchat-postgres deploy

FROM debian:bookworm-slim
#  No cluster from the package: the server's entrypoint makes one in the
#  volume at the first start (postgres.sh), never in the image
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common \
 && sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 openssl \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres.sh /usr/local/bin/groupchat-postgres
COPY postgres-keys.sh /usr/local/bin/groupchat-postgres-keys
#  A new named volume starts as a copy of its folder here, owner and mode
#  included: the data is the server's alone; the key stores are made
#  over by db-keys (root) for their owners
RUN chmod 0755 /usr/local/bin/groupchat-postgres /usr/local/bin/groupchat-postgres-keys \
 && install -d -o postgres -g postgres -m 0700 "$PGDATA" \
 && install -d -m 0755 /keys/postgres /keys/broker-db
USER postgres
#  SIGINT is PostgreSQL's fast shutdown (clients cut, every commit kept);
#  Docker's SIGTERM would be its smart one, which waits for the brokers
#  to disconnect, and they never do
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["groupchat-postgres"]
