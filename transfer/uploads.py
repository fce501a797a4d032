"""The uploaded file stays in memory: it may hold plain-text passwords, which must never reach a disk.

Django writes an upload larger than FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) to a temporary file;
this handler, the only one on the import view, keeps every byte in memory up to
csvformat.MAX_BYTES and drops the rest, so a file too large is refused with its size, read
from nowhere but the request.
"""

import io

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

# Room for the form's other fields and the multipart framing around the file.
REQUEST_SLACK = 64 * 1024


def keep_in_memory(request: HttpRequest, limit: int) -> bool:
    """Before anything reads the body: False if the request says it is larger than a file of
    `limit` bytes can make it; else every upload of this request is kept in memory (InMemoryOnly)."""
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + REQUEST_SLACK:
        return False
    request.upload_handlers = [InMemoryOnly(request, limit)]
    return True


class InMemoryOnly(FileUploadHandler):
    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.too_large = False

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if start + len(raw_data) > self.limit:
            self.too_large = True
            self.buffer = io.BytesIO()
            raise StopUpload(connection_reset=False)  # read and drop the rest of the request
        self.buffer.write(raw_data)

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            self.buffer, self.field_name, self.file_name, self.content_type, file_size, self.charset
        )
