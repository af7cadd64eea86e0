"""The transfer demonstration: does a pretrained start pay off with a few labelled images?

On scikit-learn's digits (ships with the install): LeNet-5 is pre-trained on digits 0-4 and saved as a
dlzoo saved model. Then, for k = 2, 5, 10 and 25 labelled images per class of digits 5-9, each policy
trains on the same k x 5 images and is measured on every other 5-9 image, over several seeds:

    scratch                     LeNet-5 from random weights, 90 epochs at 1e-3
    scratch + augment           the same with random shifts and zooms
    first try                   the pretrained LeNet-5: head 60 epochs frozen at 1e-3, then all
                                layers 30 epochs at 1e-4 (the classic ImageNet recipe)
    pretrained (dlzoo defaults) fine_tune's defaults for the feature layer, unfreezing and learning
                                rates, head 10 epochs then 80 epochs, no augmentation
    pretrained + augment        the same with random shifts and zooms
    DAE encoder + augment       the lectures' story: a convolutional denoising autoencoder
                                pre-trained on the unlabelled 0-4 images, its encoder fine-tuned
                                with dlzoo's defaults

Every policy gets the same budget, 90 full-batch epochs. The pretrained ones go through
`dlzoo.transfer` (the saved model resolved as a `Source`, cut at its feature layer by name, phases
with `set_trainable` / `unfreeze_layers`); the loop itself is a fixed number of full-batch steps
(`steps_per_execution`), since Keras's per-epoch overhead would otherwise dominate on 10 images.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from dlzoo import build, model_info, save, saving
from dlzoo.augmentation import augmentation_layers
from dlzoo.backends import has_tensorflow
from dlzoo.compiling import allow_jit, compile_for_task, default_loss, make_optimizer
from dlzoo.data import digits_images
from dlzoo.data.neutral import Batches
from dlzoo.preprocessing import with_preprocessing
from dlzoo.saving import ModelCard
from dlzoo.transfer import (
    Source,
    classifier,
    phase2_learning_rate,
    resolve_source,
    set_trainable,
    unfreeze_layers,
)
from dlzoo.transfer.finetune import FineTuneConfig
from dlzoo.tasks import Task

__all__ = ["POLICIES", "QUICK_POLICIES", "digits_split", "plot_curves", "run_demo"]

AUGMENT = {"translate": 0.1, "zoom": 0.1}  # digits: no flips, which would change the class
LENET_ARGS = {"activation": "relu", "subsampling": "max", "input_shape": (32, 32, 1)}
BUDGET = 90  # epochs (= full-batch steps) every policy gets


def _defaults() -> dict:
    defaults = dataclasses.asdict(FineTuneConfig())
    return {k: defaults[k] for k in ("layer", "pooling", "unfreeze", "head_learning_rate",
                                     "learning_rate", "dropout")}


def _policies() -> dict:
    d = _defaults()
    tuned = {"start": "lenet", "head_epochs": 10, "epochs": BUDGET - 10, "unfreeze": d["unfreeze"],
             "head_lr": d["head_learning_rate"], "lr": d["learning_rate"], "layer": d["layer"],
             "pooling": d["pooling"], "dropout": d["dropout"]}
    return {
        "scratch": {"start": None, "epochs": BUDGET, "lr": 1e-3},
        "scratch + augment": {"start": None, "epochs": BUDGET, "lr": 1e-3, "augment": AUGMENT},
        "first try (head 60 @1e-3, all 30 @1e-4)": {
            "start": "lenet", "head_epochs": 60, "epochs": 30, "unfreeze": "all", "head_lr": 1e-3,
            "lr": 1e-4, "layer": "c5", "pooling": "flatten", "dropout": 0.0},
        "pretrained, dlzoo defaults": tuned,
        "pretrained + augment": {**tuned, "augment": AUGMENT},
        "DAE encoder + augment": {**tuned, "start": "dae", "layer": None, "pooling": "flatten",
                                  "augment": AUGMENT},
    }


POLICIES = ("scratch", "scratch + augment", "first try (head 60 @1e-3, all 30 @1e-4)",
            "pretrained, dlzoo defaults", "pretrained + augment", "DAE encoder + augment")
QUICK_POLICIES = ("scratch + augment", "pretrained + augment")


def digits_split():
    """uint8 digits (1797, 32, 32, 1) and labels; masks of the source (0-4) and target (5-9)."""
    x, y = digits_images((32, 32))
    return x[..., None].astype("float32"), y, y < 5


def _fit(model, x, y, epochs: int, lr: float) -> None:
    """`epochs` full-batch steps at `lr`, in one compiled loop."""
    import numpy as np

    if epochs <= 0:
        return
    allow_jit(model)
    model.compile(optimizer=make_optimizer("adam", lr),
                  loss=default_loss(Task.IMAGE_CLASSIFICATION, model.output_shape[-1]),
                  steps_per_execution=epochs)
    # the whole set as one batch, `epochs` times (a PyDataset: no TensorFlow needed)
    data = Batches(x, y, np.tile(np.arange(len(x)), epochs), batch_size=len(x))
    model.fit(data, epochs=1, verbose=0, shuffle=False)


def _pretrain_lenet(x, y, epochs, out, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    net = build("lenet5", num_classes=5, **LENET_ARGS)
    model = with_preprocessing(net, "unit", name="lenet5_digits04")
    compile_for_task(model, Task.IMAGE_CLASSIFICATION, optimizer="adam", learning_rate=1e-3)
    h = model.fit(x, y, epochs=epochs, batch_size=64, verbose=0, shuffle=True)
    card = ModelCard(
        name=Path(out).name, model="lenet5",
        model_args={k: list(v) if isinstance(v, tuple) else v for k, v in LENET_ARGS.items()},
        task=Task.IMAGE_CLASSIFICATION, preprocessing="unit",
        class_names=[str(c) for c in range(5)],
        description="LeNet-5 pre-trained on scikit-learn's digits 0-4 for the transfer "
                    "demonstration (dlzoo.commands.transfer_demo).",
        data={"source": "digits 0-4 (all of them)", "num_train": len(x)},
        training={"optimizer": "adam", "learning_rate": 1e-3, "epochs": epochs,
                  "epochs_run": epochs},
        metrics={"train_accuracy": float(h.history["accuracy"][-1])},
        seed=seed)
    save(model, out, card, history=h.history)
    return card


def _pretrain_dae(x, epochs, seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    dae = build("conv_dae", input_shape=(32, 32, 1), filters=(32, 64), seed=seed)
    compile_for_task(dae, Task.AUTOENCODER, optimizer="adam", learning_rate=1e-3)
    scaled = x / 255.0
    h = dae.fit(scaled, scaled, epochs=epochs, batch_size=64, verbose=0)
    return dae, float(h.history["loss"][-1])


def _source(start, saved_dir, dae_weights):
    if start == "lenet":
        return resolve_source(str(saved_dir))
    dae = build("conv_dae", input_shape=(32, 32, 1), filters=(32, 64))
    dae.set_weights(dae_weights)
    return Source(network=dae.get_layer("encoder"), info=model_info("conv_dae"),
                  preprocessing="unit", name="conv_dae", weights="denoising pre-training")


def _train(policy: dict, x, y, saved_dir, dae_weights):
    """A trained model (raw pixels in) for one policy on the k-shot images."""
    aug = augmentation_layers(policy.get("augment"))
    if policy["start"] is None:
        net = build("lenet5", num_classes=5, **LENET_ARGS)
        model = with_preprocessing(net, "unit", augment=aug)
        _fit(model, x, y, policy["epochs"], policy["lr"])
        return model
    src = _source(policy["start"], saved_dir, dae_weights)
    _, network, head = classifier(src, 5, layer=policy["layer"], pooling=policy["pooling"],
                                  dropout=policy["dropout"])
    model = with_preprocessing(network, src.preprocessing, augment=aug)
    set_trainable(network, head)
    _fit(model, x, y, policy["head_epochs"], policy["head_lr"])
    body, _ = unfreeze_layers(network, src.info, policy["unfreeze"],
                              exclude={h.name for h in head})
    set_trainable(network, body + head)
    _fit(model, x, y, policy["epochs"],
         phase2_learning_rate(src, policy["lr"], policy["head_lr"]))
    return model


def run_demo(workdir="transfer-demo", *, ks=(2, 5, 10, 25), seeds=(0, 1, 2, 3),
             policies=POLICIES, pretrain_epochs: int = 15, dae_epochs: int = 15,
             log=print) -> dict:
    """Runs the demonstration; returns the figures (and saves the pre-trained model with them).

    Args:
        workdir: folder for `saved_models/lenet5-digits04/` (the pre-trained model, whose card
            gets the figures and the plot) and `transfer_curves.png`.
        ks: labelled images per class of digits 5-9.
        seeds: one k-shot sample and one initialisation per seed.
        policies: names from `POLICIES`.
        pretrain_epochs / dae_epochs: pre-training of LeNet-5 / the denoising autoencoder on 0-4.
        log: where progress lines go.

    Returns:
        dict with `ks`, `seeds`, per policy `mean` / `std` / `runs` (accuracy per k and seed),
        the test-set sizes, the pre-training facts, `seconds`, and the paths written.
    """

    all_policies = _policies()
    unknown = [p for p in policies if p not in all_policies]
    if unknown:
        raise ValueError(f"run_demo: unknown policy {unknown[0]!r}; known: {', '.join(POLICIES)}.")
    if has_tensorflow():
        import tensorflow as tf

        # Each run builds and traces new models on purpose; TF's retracing advice is noise here.
        tf.get_logger().setLevel("ERROR")
    start = time.perf_counter()
    work = Path(workdir)
    saved_dir = work / "saved_models" / "lenet5-digits04"
    x, y, src_mask = digits_split()
    xs, ys = x[src_mask], y[src_mask]
    xt, yt = x[~src_mask], y[~src_mask] - 5
    log(f"pre-training LeNet-5 on the {len(xs)} digits 0-4 ({pretrain_epochs} epochs)")
    card = _pretrain_lenet(xs, ys, pretrain_epochs, saved_dir)
    dae_weights, dae_loss = None, None
    if any(all_policies[p]["start"] == "dae" for p in policies):
        log(f"pre-training a denoising autoencoder on the same images, unlabelled "
            f"({dae_epochs} epochs)")
        dae, dae_loss = _pretrain_dae(xs, dae_epochs)
        dae_weights = dae.get_weights()
    runs, test_sizes = _kshot_runs(all_policies, policies, xt, yt, ks, seeds, saved_dir,
                                   dae_weights, log)
    result = {
        "ks": list(ks), "seeds": list(seeds), "budget_epochs": BUDGET,
        "test_images": test_sizes,
        "policies": {p: {"settings": _jsonable(all_policies[p]),
                         "mean": [round(float(np.mean(r)), 4) for r in runs[p]],
                         "std": [round(float(np.std(r)), 4) for r in runs[p]],
                         "runs": runs[p]} for p in policies},
        "pretrain": {"lenet5_epochs": pretrain_epochs, "lenet5_train_accuracy":
                     card.metrics["train_accuracy"], "source_images": len(xs),
                     "dae_epochs": dae_epochs if dae_weights is not None else None,
                     "dae_final_mse": dae_loss},
    }
    plot = plot_curves(result, work / "transfer_curves.png")
    result["seconds"] = round(time.perf_counter() - start, 1)
    # The pre-trained model's card carries the figures and the plot.
    card = saving.load_card(saved_dir)  # `save` rewrites what it adds (shapes, sha256, files)
    model = saving.load(saved_dir)
    card.extra["transfer_demo"] = result
    card.metrics.update({f"k{k}_{_short(p)}": result["policies"][p]["mean"][i]
                         for p in policies for i, k in enumerate(ks)})
    hist = saved_dir / "history.csv"
    save(model, saved_dir, card, history=str(hist) if hist.exists() else None,
         extra_files={"transfer_curves.png": plot})
    result["saved_dir"] = str(saved_dir)
    result["plot"] = str(plot)
    return result


def _kshot_runs(all_policies, policies, xt, yt, ks, seeds, saved_dir, dae_weights, log):
    """Accuracy of each policy for each k and seed (`runs[policy][k index][seed index]`), on
    every target image outside the k-shot sample; and the test-set size per k."""
    import keras

    runs = {p: [[None] * len(seeds) for _ in ks] for p in policies}
    test_sizes = []
    for i, k in enumerate(ks):
        for j, seed in enumerate(seeds):
            rng = np.random.default_rng(1000 * seed + k)
            idx = np.concatenate([rng.choice(np.flatnonzero(yt == c), k, replace=False)
                                  for c in range(5)])
            rest = np.setdiff1d(np.arange(len(yt)), idx)
            if j == 0:
                test_sizes.append(len(rest))
            for p in policies:
                keras.utils.set_random_seed(seed)
                model = _train(all_policies[p], xt[idx], yt[idx], saved_dir, dae_weights)
                probs = model.predict(xt[rest], batch_size=512, verbose=0)
                runs[p][i][j] = float(np.mean(probs.argmax(1) == yt[rest]))
                keras.backend.clear_session()
        log(f"k={k:>2}: " + ", ".join(f"{p} {np.mean(runs[p][i]):.3f}" for p in policies))
    return runs, test_sizes


def _short(policy: str) -> str:
    return {"scratch": "scratch", "scratch + augment": "scratch_aug",
            "first try (head 60 @1e-3, all 30 @1e-4)": "first_try",
            "pretrained, dlzoo defaults": "pretrained", "pretrained + augment": "pretrained_aug",
            "DAE encoder + augment": "dae_aug"}[policy]


def _jsonable(d: dict) -> dict:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()}


def plot_curves(result: dict, path) -> str:
    """Accuracy on the held-out 5-9 images against k, one line per policy (mean +- std)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.add_subplot()
    ks = result["ks"]
    styles = {"scratch": ("tab:gray", "--"), "scratch + augment": ("tab:gray", "-")}
    for p, r in result["policies"].items():
        color, ls = styles.get(p, (None, "-"))
        ax.errorbar(ks, r["mean"], yerr=r["std"], label=p, marker="o", capsize=3,
                    color=color, linestyle=ls)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("labelled images per class (digits 5-9)")
    ax.set_ylabel("accuracy on the other 5-9 images")
    ax.set_title(f"LeNet-5 pre-trained on digits 0-4 vs from scratch "
                 f"({len(result['seeds'])} seeds, {result['budget_epochs']} epochs each)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), dpi=110)
    return str(path)
