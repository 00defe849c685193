"""Known wrong implementations of the exercises of `ch04_distillation`: each must score below full marks.

They are test data for the grader's self-test (tests/test_grade.py), kept out of the course package; the
exercises' curated `mistakes` in the spec module are tested as mutants too (tests/course_fixtures.py).
"""

MUTANTS = {
    'ch04.ex1': {
        "multiplies by T": '''
def softmax_t(logits, T):
    z = logits * T
    z = z - z.max(dim=-1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)
''',
        "normalizes over the batch (dim 0)": '''
def softmax_t(logits, T):
    z = logits / T
    z = z - z.max(dim=0, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=0, keepdim=True)
''',
    },
    'ch04.ex2': {
        "KL averaged over every entry (reduction='mean'), not over the batch": '''
def distillation_loss(student_logits, teacher_logits, labels, T, alpha):
    ce = F.cross_entropy(student_logits, labels)
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.log_softmax(teacher_logits / T, -1),
                  log_target=True, reduction="mean")
    return alpha * ce + (1 - alpha) * T * T * kl
''',
        "the articles' soft term: CrossEntropyLoss applied to probabilities": '''
def distillation_loss(student_logits, teacher_logits, labels, T, alpha):
    ce = F.cross_entropy(student_logits, labels)
    soft = F.cross_entropy(F.softmax(student_logits / T, -1), F.softmax(teacher_logits / T, -1))
    return alpha * ce + (1 - alpha) * T * T * soft
''',
        "alpha on the wrong term": '''
def distillation_loss(student_logits, teacher_logits, labels, T, alpha):
    ce = F.cross_entropy(student_logits, labels)
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.log_softmax(teacher_logits / T, -1),
                  log_target=True, reduction="batchmean")
    return (1 - alpha) * ce + alpha * T * T * kl
''',
    },
    'ch04.ex3': {
        "the articles' line: CrossEntropyLoss(student_probs, teacher_probs)": '''
def article_loss_fixed(student_logits, teacher_logits, labels, T):
    criterion = nn.CrossEntropyLoss()
    student_probs = F.softmax(student_logits / T, dim=-1)
    teacher_probs = F.softmax(teacher_logits / T, dim=-1)
    return criterion(student_logits, labels) + criterion(student_probs, teacher_probs)
''',
        "log of probabilities, but temperature left out of the student": '''
def article_loss_fixed(student_logits, teacher_logits, labels, T):
    teacher_probs = F.softmax(teacher_logits / T, dim=-1)
    return F.cross_entropy(student_logits, labels) + T * T * F.cross_entropy(student_logits, teacher_probs)
''',
        "summed over the batch instead of averaged": '''
def article_loss_fixed(student_logits, teacher_logits, labels, T):
    teacher_probs = F.softmax(teacher_logits / T, dim=-1)
    soft = -(teacher_probs * F.log_softmax(student_logits / T, -1)).sum()
    return F.cross_entropy(student_logits, labels) + T * T * soft
''',
    },
    'ch04.ex5': {
        "takes the first len(layer_ids) layers": '''
def student_state_from_teacher(teacher_state, layer_ids):
    n = len(layer_ids)
    out = {}
    for k, v in teacher_state.items():
        if k.startswith("encoder.layers."):
            if int(k.split(".")[2]) < n:
                out[k] = v
        else:
            out[k] = v
    return out
''',
        "renames with str.replace without the trailing dot (layers.1 matches layers.10)": '''
def student_state_from_teacher(teacher_state, layer_ids):
    out = {k: v for k, v in teacher_state.items() if not k.startswith("encoder.layers.")}
    for j, i in enumerate(layer_ids):
        for k, v in teacher_state.items():
            if k.startswith(f"encoder.layers.{i}"):
                out[k.replace(f"layers.{i}", f"layers.{j}")] = v
    return out
''',
    },
    'ch04.ex4': {
        "the articles' code: copies the teacher's parameters into the student": '''
def distill_step(student, teacher, x, labels, optimizer, T, alpha):
    for param_teacher, param_student in zip(teacher.parameters(), student.parameters()):
        param_student.data.copy_(param_teacher.data.detach())
    return torch.tensor(0.0)
''',
        "teacher not under no_grad (gradients flow into the teacher)": '''
def distill_step(student, teacher, x, labels, optimizer, T, alpha):
    t = teacher(x)
    s = student(x)
    kl = (F.softmax(t / T, -1) * (F.log_softmax(t / T, -1) - F.log_softmax(s / T, -1))).sum(-1).mean()
    loss = alpha * F.cross_entropy(s, labels) + (1 - alpha) * T * T * kl
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()
''',
    },
    'ch04.ex6': {
        "no T^2 factor: the soft term 16 times too weak at T = 4": '''
def scarce_label_loss(student_logits, teacher_logits, labels):
    T, alpha = 4.0, 0.5
    kl = F.kl_div(F.log_softmax(student_logits / T, -1), F.log_softmax(teacher_logits / T, -1),
                  log_target=True, reduction="batchmean")
    return alpha * F.cross_entropy(student_logits, labels) + (1 - alpha) * kl
''',
    },
}
