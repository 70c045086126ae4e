import subprocess, time
from imapclient import IMAPClient
import _servers as s
def test_x(dovecot_account, token_endpoint):
    c = IMAPClient(dovecot_account.host, dovecot_account.port, ssl=False, timeout=5)
    try:
        print(c.oauth2_login(s.USER, s.GOOD_TOKEN))
    except Exception as e:
        print("ERR", e)
    print(dovecot_account.log_tail(10))
    c2 = dovecot_account.client(); c2.select_folder("INBOX")
    r = subprocess.run(["doveadm", "-c", str(dovecot_account.root / "dovecot.conf"), "kick", s.USER], capture_output=True, text=True)
    print("kick", r.returncode, r.stdout, r.stderr)
    try:
        print(c2.noop())
    except Exception as e:
        print("after kick", type(e), e)
