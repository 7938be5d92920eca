"""Runs a command in a pseudo-terminal (120x40), waits until the screen shows WAIT_FOR, types
KEYS, and waits for the command to exit. Prints 'exit=<code>' and 'restored=<bool>' (the
alternate screen was left after it was entered). Bounded: gives up after 30 s."""
import fcntl, os, pty, select, struct, sys, termios, time

wait_for, keys, argv = sys.argv[1].encode(), sys.argv[2].encode(), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm-256color"
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
out, sent, deadline, status = b"", False, time.time() + 30, None
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        out += chunk
    if not sent and wait_for in out:
        time.sleep(0.3)
        os.write(fd, keys)
        sent = True
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
if status is None:
    os.kill(pid, 9)
    print("exit=timeout sent=%s" % sent)
    sys.exit(0)
enter, leave = out.find(b"\x1b[?1049h"), out.rfind(b"\x1b[?1049l")
print("exit=%d" % os.waitstatus_to_exitcode(status))
print("restored=%s" % (enter >= 0 and leave > enter))
