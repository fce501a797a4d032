import json
import socket

from django.conf import settings


class HelperError(Exception):
    pass


def call(request: dict, timeout: float = 300) -> dict:
    """One request to the privileged helper; its JSON answer, or HelperError if it cannot be asked."""
    path = str(settings.HELPER_SOCKET)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout)
            connection.connect(path)
            connection.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = connection.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise HelperError(f"the helper is not running (no one answers on {path})") from None
    except TimeoutError:
        raise HelperError(
            f"the helper did not answer within {timeout:g} s (it may still finish; the next apply writes everything again)"
        ) from None
    except OSError as e:
        raise HelperError(f"the helper could not be asked: {e}") from None
    try:
        return json.loads(answer)
    except ValueError:
        raise HelperError("the helper gave no valid answer") from None
