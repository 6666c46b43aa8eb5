#!/usr/bin/env bash
# Makes sure the services the store tests talk to are up (PostgreSQL, Redis, RabbitMQ),
# starting any that stopped with the machine's own start commands.
set -u

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure() {
	local name=$1 port=$2 start=$3
	if up "$port"; then
		echo "services: $name is up on $port"
		return 0
	fi
	echo "services: starting $name"
	bash -c "$start" >/dev/null 2>&1 || true
	for _ in $(seq 1 60); do
		up "$port" && { echo "services: $name is up on $port"; return 0; }
		sleep 1
	done
	echo "services: $name did not come up on $port" >&2
	return 1
}

status=0
ensure PostgreSQL 5432 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start' || status=1
ensure Redis 6379 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log' || status=1
ensure RabbitMQ 5672 'rabbitmq-server -detached' || status=1
exit $status
