# TEMPORARY during the restructuring: removed once every importer reads genai_lab.config / genai_lab.paths.
from genai_lab.config import StrictConfig  # noqa: F401
from genai_lab.environment import HOME_ENV  # noqa: F401
from genai_lab.paths import WAREHOUSE_SCHEMA, LabPaths, dump_id_for, resolve_home  # noqa: F401
