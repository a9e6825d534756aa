        # Signal the master only (not its workers: the master relays the reopen over IPC).
        # Through systemd when corral runs as corral.service, else through the pidfile.
        if systemctl --quiet is-active corral.service 2>/dev/null; then
            systemctl kill --signal=USR1 --kill-whom=main corral.service
        elif [ -s /tmp/audit-ops/lr/corral.pid ]; then
            kill -USR1 "$(cat /tmp/audit-ops/lr/corral.pid)"
        fi
