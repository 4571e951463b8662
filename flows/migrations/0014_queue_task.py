"""The task queues' join to a task's deadline (issue 18): every human task
names its case as viewflow's artifact, indexed, so QueueTask.sla_clock joins
the case's open clock of a task stage on one path."""

from django.db import migrations
from django.db.models import OuterRef, Subquery

PROCESSES = (("repaircase", "repairprocess"), ("objectioncase", "objectionprocess"))


def bind_tasks(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Task = apps.get_model("viewflow", "Task")
    for case_model, process_model in PROCESSES:
        content_type, _created = ContentType.objects.get_or_create(
            app_label="flows", model=case_model
        )
        Process = apps.get_model("flows", process_model)
        cases = Process.objects.filter(process_ptr_id=OuterRef("process_id")).values("case_id")
        Task.objects.filter(
            flow_task_type="HUMAN",
            artifact_object_id__isnull=True,
            process_id__in=Process.objects.values("process_ptr_id"),
        ).update(artifact_content_type=content_type, artifact_object_id=Subquery(cases[:1]))


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("flows", "0013_case_clock_join"),
        ("sla", "0014_task_clock_due"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueTask",
            fields=[],
            options={"proxy": True, "indexes": [], "constraints": []},
            bases=("viewflow.task",),
        ),
        # viewflow's task table has no index on its artifact: the join from a
        # clock back to its case's tasks, when the planner starts from the clock.
        migrations.RunSQL(
            "CREATE INDEX flows_task_artifact ON viewflow_task"
            " (artifact_object_id, artifact_content_type_id)",
            "DROP INDEX flows_task_artifact",
        ),
        # A queue's node and status filter: an empty queue (a department with
        # no review waiting) is found by an index, not a walk of every task.
        migrations.RunSQL(
            "CREATE INDEX flows_task_node_status ON viewflow_task (flow_task, status)",
            "DROP INDEX flows_task_node_status",
        ),
        # The archive, latest finished first.
        migrations.RunSQL(
            "CREATE INDEX flows_task_finished ON viewflow_task (finished, id)"
            " WHERE finished IS NOT NULL",
            "DROP INDEX flows_task_finished",
        ),
        # After the index: PostgreSQL cannot index a table with the update's
        # foreign-key checks still pending in the transaction.
        migrations.RunPython(bind_tasks, migrations.RunPython.noop),
    ]
