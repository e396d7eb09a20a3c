"""Privacy in shopping mode: a shopper beside the shelf is blurred before the keyframe
leaves the edge (the real face stage, checked by an independent detector), the label is
still read on the device, and questions about the people in view are never answered
with a description of them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory import HashingEmbedder
from cloud.memory.user_data import UserDirectory
from cloud.tools.shopping import NOT_ABOUT_PEOPLE, about_people
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.barcodes import OpenCvBarcodeReader
from edge.vision.faces import HaarFaceDetector, MediaPipeFaceDetector
from edge.vision.jpeg import encode_jpeg
from protocol import AnswerDone, Control, Message, Observation, Query, Sequencer
from protocol.messages import ProductLabel
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.test_vision_analysis import FakeClassifier
from tests.waiting import until

SCENE = Path(__file__).resolve().parents[1] / "scenarios" / "media" / "shopping-bystander.jpg"


def as_uploaded(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """What the cloud decodes: the frame through the edge's own JPEG encoder."""
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(image, max_bytes=150_000), np.uint8), 1)
    assert decoded is not None
    return decoded.astype(np.uint8)


@pytest.mark.models
def test_a_shoppers_face_is_blurred_before_the_keyframe_leaves_and_the_label_is_still_read(
    rapid_ocr: object,
) -> None:
    read = cv2.imread(str(SCENE), cv2.IMREAD_COLOR)
    assert read is not None
    image = np.asarray(read, np.uint8)
    haar = HaarFaceDetector()
    assert haar.detect(image), "the independent detector sees the shopper before blurring"
    analyser = KeyframeAnalyser(
        rapid_ocr,  # type: ignore[arg-type]
        FakeClassifier(),
        faces=MediaPipeFaceDetector(),
        barcodes=OpenCvBarcodeReader(),
    )

    prepared = analyser.prepare(image)
    analyser.close()

    assert prepared.redacted is not None and prepared.faces_hidden >= 1
    uploaded = as_uploaded(prepared.redacted)
    assert haar.detect(uploaded) == []
    assert MediaPipeFaceDetector(min_score=0.5).detect(uploaded) == []
    # The label was read on the device from the whole frame; only the blurred one leaves.
    [label] = prepared.context.products
    assert (label.name, label.price) == ("Sweet Popcorn", "£1.20")
    assert label.barcode == "5077702200491"


@pytest.mark.parametrize(
    "question",
    [
        "Who is that next to me?",
        "What is that woman wearing?",
        "Describe the person beside me.",
        "How old is she?",
        "What are those people buying?",
    ],
)
def test_questions_about_people_in_view_are_recognised(question: str) -> None:
    assert about_people(question)


@pytest.mark.parametrize(
    "question",
    ["What is this?", "Is this safe for the kids?", "Is this good for kids?", "Which is cheaper?"],
)
def test_questions_about_products_are_not_taken_for_questions_about_people(question: str) -> None:
    assert not about_people(question)


async def test_other_shoppers_are_never_described_in_shopping_mode(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    reasoner = FakeReasoner()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    edge = Sequencer("s")
    conversation = Conversation(
        "s",
        Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users),
        send,
        config=CloudConfig(),
        user="alice",
    )
    task = asyncio.create_task(conversation.run())
    conversation.receive(edge.make(Control, action="shopping", value="on"))
    conversation.receive(edge.make(Query, turn_id=1, text="Who is that next to me?", visual=True))
    conversation.receive(
        edge.make(
            Observation,
            turn_id=1,
            captured_at=0.0,
            products=(ProductLabel(name="Sweet Popcorn", brand="Kettle Hut", price="£1.20"),),
        )
    )
    await until(lambda: conversation.turns_finished > 0)
    task.cancel()
    users.close()

    [done] = [m for m in sent if isinstance(m, AnswerDone)]
    assert done.text == NOT_ABOUT_PEOPLE
    assert reasoner.prompts == []  # the model never saw the question
