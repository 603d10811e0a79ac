"""A step that reports one of each kind a run page shows, with text that must be escaped."""

from pipec import PipelineDecorator


@PipelineDecorator.component(return_values=["small", "opaque"], cache=False)
def report_all(rows: int):
    from pipec import Logger

    class Opaque:
        pass

    print("<b>printed, not bold</b>")
    logger = Logger.current_logger()
    for i in range(rows):
        logger.report_scalar("loss", "train", value=1.0 / (i + 1), iteration=i)
        logger.report_scalar("loss", "eval", value=1.5 / (i + 1), iteration=i)
    logger.report_text("<script>alert('text')</script>", print_console=False)
    logger.report_table("scores", "table", iteration=0, table_plot=[["a", 1], ["<b>bold</b>", 2]])
    logger.report_line_plot(
        "curve", [{"name": "line", "data": [[0, 1], [1, 3], [2, 2]]}], xaxis="x", yaxis="y"
    )
    logger.report_image("remote", "picture", url="https://example.invalid/picture.png")
    figure = {"data": [{"type": "scatter", "x": [1, 2, 3], "y": [3, 1, 2]}], "layout": {}}
    logger.report_plotly("interactive", "figure", figure=figure)
    return {"rows": rows, "note": "<i>small</i>"}, Opaque()


@PipelineDecorator.pipeline(name="reports", project="pipec tests", version="1.0.0")
def pipeline(rows: int = 3):
    report_all(rows)


if __name__ == "__main__":
    PipelineDecorator.run_locally()
    pipeline()
