"""ScryptPasswordHasher for Django 3.2, written for these fixtures.

Django added django.contrib.auth.hashers.ScryptPasswordHasher in 4.0; this
machine only has Debian 12's Django 3.2. This class produces exactly the
format Django 4.0+ documents and stores:

    scrypt$<N>$<salt>$<r>$<p>$<base64(hashlib.scrypt(password, salt, N, r, p, dklen=64))>

with Django's defaults N=2**14, r=8, p=1 (Django 5 raised p to 5; both are
read by the importer). Only this hasher is not Django's own code.
"""
import base64
import hashlib

from django.contrib.auth.hashers import BasePasswordHasher
from django.utils.crypto import constant_time_compare


class ScryptPasswordHasher(BasePasswordHasher):
    algorithm = "scrypt"
    work_factor = 2 ** 14
    block_size = 8
    parallelism = 1

    def encode(self, password, salt, n=None, r=None, p=None):
        n = n or self.work_factor
        r = r or self.block_size
        p = p or self.parallelism
        raw = hashlib.scrypt(password.encode(), salt=salt.encode(), n=n, r=r, p=p, dklen=64)
        return "%s$%d$%s$%d$%d$%s" % (self.algorithm, n, salt, r, p, base64.b64encode(raw).decode("ascii"))

    def decode(self, encoded):
        algorithm, n, salt, r, p, hash_ = encoded.split("$", 6)
        return {"algorithm": algorithm, "work_factor": int(n), "salt": salt,
                "block_size": int(r), "parallelism": int(p), "hash": hash_}

    def verify(self, password, encoded):
        d = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, d["salt"], d["work_factor"], d["block_size"], d["parallelism"]))

    def safe_summary(self, encoded):
        return {"algorithm": self.algorithm}

    def harden_runtime(self, password, encoded):
        pass
