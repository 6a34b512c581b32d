"""Problem codes of task templates, categories, tasks and comments."""

from __future__ import annotations

from enum import StrEnum


class TaskCode(StrEnum):
    AMBIGUOUS_TEMPLATES = "ambiguous_templates"
    BLANK_COMMENT = "blank_comment"
    CATEGORY_NAME_TAKEN = "category_name_taken"
    EMPTY_CATEGORY = "empty_category"
    SUBTASK_CANCELLED = "subtask_cancelled"
    SUBTASK_COMPLETED = "subtask_completed"
    TASK_ALREADY_ACCEPTED = "task_already_accepted"
    TASK_CANCELLED = "task_cancelled"
    TASK_COMPLETED = "task_completed"
    TASK_NOT_ACCEPTED = "task_not_accepted"
    TEMPLATE_NAME_TAKEN = "template_name_taken"
    TEMPLATES_REQUIRED = "templates_required"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_TEMPLATES = "unknown_templates"
